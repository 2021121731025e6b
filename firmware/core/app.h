/*
 * app.h - the sensor application: start-up greeting and the main loop.
 *
 * Until the binary link protocol lands, the console speaks text lines: the firmware prints its
 * greeting at boot and again whenever it receives the line "?".
 */
#ifndef RTLNF_APP_H
#define RTLNF_APP_H

#include <stddef.h>
#include <stdint.h>

/* Longest line the console accepts; a longer one is discarded and answered with an error. */
#define APP_LINE_MAX 64u

typedef struct {
    const char *fw_version;
    const char *board;
    const char *build_id;
    uint32_t cpu_hz;
    const char *clock_source;
} app_identity_t;

/* Writes "RT-LNF firmware <ver> board=<b> build=<id> cpu_mhz=<n> clock=<src>\r\n" into out
 * (always NUL-terminated when cap > 0, truncated to fit) and returns its length without the NUL. */
size_t app_format_greeting(char *out, size_t cap, const app_identity_t *id);

#endif /* RTLNF_APP_H */
