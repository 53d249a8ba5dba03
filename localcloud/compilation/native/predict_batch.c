/*
 * Linked into every library the local Neo stand-in builds, beside the code tl2cgen generates.
 * tl2cgen's predict() takes one row of its Entry unions; callers (ctypes, the predict_csv runner)
 * pass rows of floats, NaN for a missing value, as XGBoost reads them.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "header.h"

#define CONVEYOR_NUM_OUTPUT (N_TARGET * MAX_N_CLASS)

/* Floats each row's prediction takes in the output of conveyor_predict_batch. */
int32_t conveyor_num_output(void) { return CONVEYOR_NUM_OUTPUT; }

/* Predict num_row rows of get_num_feature() floats each into out (num_row * conveyor_num_output()). */
void conveyor_predict_batch(const float* rows, size_t num_row, int pred_margin, float* out) {
  const int32_t num_feature = get_num_feature();
  union Entry entries[num_feature > 0 ? num_feature : 1];
  for (size_t i = 0; i < num_row; ++i) {
    const float* row = rows + i * (size_t)num_feature;
    for (int32_t j = 0; j < num_feature; ++j) {
      if (isnan(row[j])) {
        entries[j].missing = -1;
      } else {
        entries[j].fvalue = row[j];
      }
    }
    float* result = out + i * CONVEYOR_NUM_OUTPUT;
    memset(result, 0, sizeof(float) * CONVEYOR_NUM_OUTPUT);
    predict(entries, pred_margin, result);
  }
}
