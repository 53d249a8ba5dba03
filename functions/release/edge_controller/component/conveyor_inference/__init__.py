"""Conveyor's edge inference component: what runs on each Greengrass v2 core device.

``python3 -m conveyor_inference selftest`` checks the compiled model (the SageMaker Neo output for
the device's target) against XGBoost's own predictions before the deployment counts as installed;
``python3 -m conveyor_inference serve`` predicts readings as CSV files appear in a folder and
publishes the predictions (Greengrass IPC on a device, JSON lines files elsewhere).

Device prerequisites: Python 3.10 or later (standard library only) and glibc. The model runs in process through
ctypes (:mod:`.native`), or through a runner command when ``CONVEYOR_NATIVE_RUNNER`` names one
(:mod:`.runner`): Conveyor's local cloud sets it to run another architecture's build under
qemu-user. The Greengrass IPC SDK (``awsiotsdk``) is used when the device has it.
"""
