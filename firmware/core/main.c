/*
 * main.c - the sensor firmware: bring the board up, announce itself (HELLO), then serve the link.
 * Received bytes go to the link application; between interrupts the core sleeps (WFI), and the
 * time it sleeps is counted for STATS. A watchdog resets the board if this loop ever stops.
 * RTLNF_FW_VERSION_*, RTLNF_BOARD_NAME and RTLNF_BUILD_ID come from the build (pio-platform);
 * the model from the generated sources (python -m codegen export).
 */
#include "core/board.h"
#include "core/protocol_defs.h"
#include "core/sensor_app.h"
#include "rtlnf_model.h"

/* codegen export refuses such models; this keeps a hand-made one from sending nothing. */
_Static_assert(sizeof(rtlnf_header_t) + sizeof(rtlnf_msg_latent_t) + RTLNF_MODEL_HIDDEN * sizeof(int16_t)
                   <= FRAME_BODY_MAX, "a LATENT of this model does not fit a link frame");

/* Longest the loop may go without a kick; the slowest iteration (one encoder step plus a few
 * frames) takes well under a millisecond at 480 MHz. */
#define WATCHDOG_TIMEOUT_MS 500u

static uint8_t s_encoder_state[RTLNF_MODEL_ENCODER_STATE_BYTES] __attribute__((aligned(8)));
static int8_t s_fallback_scratch[RTLNF_MODEL_FALLBACK_SCRATCH_BYTES];
static sensor_app_t s_app;
static uint64_t s_sleep_us;

static void io_tx(const uint8_t *data, size_t len, void *ctx)
{
    (void)ctx;
    board_uart_write(data, len);
}

static uint32_t io_millis(void *ctx)
{
    (void)ctx;
    return board_millis();
}

static uint32_t io_micros(void *ctx)
{
    (void)ctx;
    return board_micros();
}

static uint32_t io_cycles(void *ctx)
{
    (void)ctx;
    return board_cycles();
}

static uint32_t io_rx_overflows(void *ctx)
{
    (void)ctx;
    return board_uart_rx_overflows();
}

static uint32_t io_sleep_ms(void *ctx)
{
    (void)ctx;
    return (uint32_t)(s_sleep_us / 1000u);
}

#ifdef RTLNF_TEST_STALL_AFTER_MS
/* Test builds only (env mps2_an500_watchdog_test): the loop stops kicking to prove the reset. */
static void test_stall(void)
{
    if (board_millis() >= RTLNF_TEST_STALL_AFTER_MS) {
        for (;;) {
        }
    }
}
#else
static void test_stall(void) {}
#endif

int main(void)
{
    board_init();
    bool watchdog_reset = board_reset_was_watchdog();
    bool cycles = board_cycle_counter_start();
    board_watchdog_start(WATCHDOG_TIMEOUT_MS);
    const sensor_app_config_t cfg = {
        .encoder = &rtlnf_model_encoder,
        .fallback = &rtlnf_model_fallback,
        .classes = RTLNF_MODEL_CLASSES,
        .model_hash = RTLNF_MODEL_HASH_BYTES,
        .fw_version = {RTLNF_FW_VERSION_MAJOR, RTLNF_FW_VERSION_MINOR, RTLNF_FW_VERSION_PATCH},
        .board = RTLNF_BOARD_NAME,
        .build_id = RTLNF_BUILD_ID,
        .boot_flags = watchdog_reset ? RTLNF_HELLO_FLAG_WATCHDOG_RESET : 0u,
        .encoder_state = s_encoder_state,
        .fallback_scratch = s_fallback_scratch,
        .io = {
            .tx = io_tx, .millis = io_millis, .micros = io_micros, .cycles = cycles ? io_cycles : 0,
            .rx_overflows = io_rx_overflows, .sleep_ms = io_sleep_ms, .ctx = 0,
        },
    };
    sensor_app_init(&s_app, &cfg);
    sensor_app_send_hello(&s_app);
    for (;;) {
        board_watchdog_kick();
        test_stall();
        uint8_t rx[64];
        size_t n = board_uart_read(rx, sizeof rx);
        if (n > 0) {
            sensor_app_rx(&s_app, rx, n);
        }
        sensor_app_poll(&s_app);
        if (n == 0) {
            uint32_t t0 = board_micros();
            board_idle();   /* until the next interrupt: a byte, or the millisecond tick */
            s_sleep_us += board_micros() - t0;
        }
    }
}
