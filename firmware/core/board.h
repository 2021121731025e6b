/*
 * board.h - what the portable core needs from a board.
 *
 * Each board folder (boards/<id>/) implements this interface once: clocks, caches, the tick,
 * the console UART. The core (app, protocol, solver) never touches a register itself, so the
 * same core runs on the NUCLEO-H743ZI, in Renode's STM32H743 model and in QEMU's mps2-an500.
 */
#ifndef RTLNF_BOARD_H
#define RTLNF_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Brings up clocks, caches, the millisecond tick and the console UART (RX and TX interrupt-driven).
 * Every hardware wait inside is bounded: a bit an emulator does not model never hangs the boot. */
void board_init(void);

/* Queues len bytes for transmission and returns: the UART's interrupt sends them while the core
 * goes on or sleeps. Waits only while the TX ring is full; drops the rest if it never drains. */
void board_uart_write(const uint8_t *data, size_t len);

/* Moves up to max received bytes out of the RX ring buffer; never blocks. */
size_t board_uart_read(uint8_t *out, size_t max);

/* Bytes dropped because the RX ring (or the UART's own FIFO) was full. */
uint32_t board_uart_rx_overflows(void);

/* Milliseconds since board_init (wraps after ~49 days). */
uint32_t board_millis(void);

/* Microseconds since board_init (wraps after ~71 minutes), from the millisecond tick and the
 * SysTick down-counter. */
uint32_t board_micros(void);

/* Free-running CPU cycle counter (DWT CYCCNT). Returns false, and the core leaves costs at 0,
 * where the board or emulator has none (QEMU does not model the DWT). */
bool board_cycle_counter_start(void);
uint32_t board_cycles(void);

/* Independent watchdog: resets the chip unless kicked at least every timeout_ms. */
void board_watchdog_start(uint32_t timeout_ms);
void board_watchdog_kick(void);

/* True when the last reset came from the watchdog (read once at boot, where the board can tell). */
bool board_reset_was_watchdog(void);

/* Sleeps (WFI) until the next interrupt, unless received bytes are already waiting: the check and
 * the sleep are done with interrupts masked, so a byte arriving in between still wakes the core. */
void board_idle(void);

/* Core clock as configured, in Hz, and a short description of where it comes from. */
uint32_t board_cpu_hz(void);
const char *board_clock_source(void);

#endif /* RTLNF_BOARD_H */
