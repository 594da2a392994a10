// The main of every test program: runs the doctest tests, or, started with
// `--child=<role>`, plays that role as a child process of a test (see
// child_process.hpp).

#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "child_process.hpp"

int main(int argc, char** argv) {
  if (auto code = test::run_child_role(argc, argv))
    return *code;
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}
