#include <stdio.h>

/* stdout line-buffered even when it is a pipe (systemd, docker, `| tee`). A C global that
   Swift 6 will not touch from Swift without calling it shared mutable state. */
static inline void millwright_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
