/*
 * main.c - the firmware entry point: bring the board up, greet, then serve the console.
 * RTLNF_FW_VERSION, RTLNF_BOARD_NAME and RTLNF_BUILD_ID come from the build (pio-platform).
 */
#include <stdbool.h>

#include "core/app.h"
#include "core/board.h"

static void send_text(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    board_uart_write((const uint8_t *)s, n);
}

static void send_greeting(void)
{
    static char line[160];
    const app_identity_t id = {
        .fw_version = RTLNF_FW_VERSION,
        .board = RTLNF_BOARD_NAME,
        .build_id = RTLNF_BUILD_ID,
        .cpu_hz = board_cpu_hz(),
        .clock_source = board_clock_source(),
    };
    size_t n = app_format_greeting(line, sizeof line, &id);
    board_uart_write((const uint8_t *)line, n);
}

static void handle_line(const char *line, size_t len)
{
    if (len == 1 && line[0] == '?') {
        send_greeting();
    } else if (len > 0) {
        send_text("ERR unknown command\r\n");
    }
}

int main(void)
{
    board_init();
    send_greeting();

    char line[APP_LINE_MAX];
    size_t line_len = 0;
    bool line_overflow = false;
    for (;;) {
        uint8_t rx[32];
        size_t n = board_uart_read(rx, sizeof rx);
        if (n == 0) {
            board_idle();
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            char c = (char)rx[i];
            if (c == '\r') {
                continue;
            }
            if (c == '\n') {
                if (line_overflow) {
                    send_text("ERR line too long\r\n");
                } else {
                    handle_line(line, line_len);
                }
                line_len = 0;
                line_overflow = false;
            } else if (line_len < sizeof line) {
                line[line_len++] = c;
            } else {
                line_overflow = true;
            }
        }
    }
}
