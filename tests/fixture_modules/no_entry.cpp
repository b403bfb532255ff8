// A shared library in the plugin directory that is not an annbench module.

extern "C" __attribute__((visibility("default"))) int not_an_annbench_module() {
  return 42;
}
