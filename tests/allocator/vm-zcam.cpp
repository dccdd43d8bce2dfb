#include "zc-test.h"
int main () { return 77; }
