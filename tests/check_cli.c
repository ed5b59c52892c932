/* fetchall, run as a command against the loopback test server. */
#include <check.h>
int main(void) { return 0; }
