/*
 * Runs a library the local Neo stand-in built: rows of CSV on standard input (no label, no header,
 * an empty cell for a missing value), one line of predictions per row on standard output.
 * Built for the library's architecture, it runs under qemu-user on any machine.
 *
 *   predict_csv LIBRARY [--margin]
 *
 * Exit status: 0 done, 2 usage, 3 the library cannot be loaded, 4 a row does not fit the model.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int32_t (*count_fn)(void);
typedef void (*batch_fn)(const float*, size_t, int, float*);

/* Parse one CSV line into row; return the number of values, or -1 on a value that is not a number. */
static int32_t parse_row(char* line, float* row, int32_t capacity) {
  int32_t column = 0;
  char* cursor = line;
  for (;;) {
    if (column == capacity) return capacity + 1;
    if (*cursor == ',' || *cursor == '\n' || *cursor == '\r' || *cursor == '\0') {
      row[column] = NAN;
    } else {
      char* end;
      row[column] = strtof(cursor, &end);
      if (end == cursor) return -1;
      cursor = end;
    }
    ++column;
    if (*cursor != ',') break;
    ++cursor;
  }
  return (*cursor == '\n' || *cursor == '\r' || *cursor == '\0') ? column : -1;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--margin") != 0)) {
    fprintf(stderr, "usage: %s LIBRARY [--margin]\n", argv[0]);
    return 2;
  }
  void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) {
    fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
    return 3;
  }
  count_fn num_feature = (count_fn)dlsym(library, "get_num_feature");
  count_fn num_output = (count_fn)dlsym(library, "conveyor_num_output");
  batch_fn predict_batch = (batch_fn)dlsym(library, "conveyor_predict_batch");
  if (num_feature == NULL || num_output == NULL || predict_batch == NULL) {
    fprintf(stderr, "%s is not a library of the local Neo stand-in\n", argv[1]);
    return 3;
  }
  const int margin = argc == 3;
  const int32_t features = num_feature();
  const int32_t outputs = num_output();
  float* row = malloc(sizeof(float) * (size_t)(features + 1));
  float* result = malloc(sizeof(float) * (size_t)outputs);
  static char line[1 << 16];
  long number = 0;
  while (fgets(line, sizeof line, stdin) != NULL) {
    ++number;
    if (line[0] == '\n' || line[0] == '\r' || line[0] == '\0') continue;
    const int32_t found = parse_row(line, row, features);
    if (found != features) {
      if (found < 0) {
        fprintf(stderr, "line %ld: a value is not a number\n", number);
      } else if (found > features) {
        fprintf(stderr, "line %ld: more than %d values, the model reads %d\n", number, features, features);
      } else {
        fprintf(stderr, "line %ld: %d values, the model reads %d\n", number, found, features);
      }
      return 4;
    }
    predict_batch(row, 1, margin, result);
    for (int32_t j = 0; j < outputs; ++j) printf(j ? ",%.9g" : "%.9g", result[j]);
    putchar('\n');
  }
  free(row);
  free(result);
  return 0;
}
