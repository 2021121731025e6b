/*
 * main.c - the sensor firmware: bring the board up, announce itself (HELLO), then serve the link:
 * every received byte goes to the link application, every answer goes out on the UART.
 * RTLNF_FW_VERSION_*, RTLNF_BOARD_NAME and RTLNF_BUILD_ID come from the build (pio-platform);
 * the model from the generated sources (python -m codegen export).
 */
#include "core/board.h"
#include "core/sensor_app.h"
#include "rtlnf_model.h"

static int16_t s_h[RTLNF_MODEL_HIDDEN];
static uint8_t s_scratch[LTC_Q15_SCRATCH_BYTES(RTLNF_MODEL_HIDDEN)] __attribute__((aligned(4)));
static sensor_app_t s_app;

static void uart_tx(const uint8_t *data, size_t len, void *ctx)
{
    (void)ctx;
    board_uart_write(data, len);
}

int main(void)
{
    board_init();
    const sensor_app_config_t cfg = {
        .encoder = &rtlnf_model_encoder,
        .fallback = &rtlnf_model_fallback,
        .classes = RTLNF_MODEL_CLASSES,
        .model_hash = RTLNF_MODEL_HASH_BYTES,
        .fw_version = {RTLNF_FW_VERSION_MAJOR, RTLNF_FW_VERSION_MINOR, RTLNF_FW_VERSION_PATCH},
        .board = RTLNF_BOARD_NAME,
        .build_id = RTLNF_BUILD_ID,
        .h = s_h,
        .scratch = s_scratch,
        .tx = uart_tx,
        .tx_ctx = 0,
    };
    sensor_app_init(&s_app, &cfg);
    sensor_app_send_hello(&s_app);
    for (;;) {
        uint8_t rx[64];
        size_t n = board_uart_read(rx, sizeof rx);
        if (n == 0) {
            board_idle();
            continue;
        }
        sensor_app_rx(&s_app, rx, n, board_uart_rx_overflows());
    }
}
