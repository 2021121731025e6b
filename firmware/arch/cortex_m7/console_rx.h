/*
 * console_rx.h - the console's receive side, shared by every Cortex-M7 board: an RX ring buffer
 * filled by the board's UART interrupt handler, and the board_* functions that read it.
 * The board supplies only its ISR (which calls console_rx_push) and board_uart_write.
 */
#ifndef RTLNF_CONSOLE_RX_H
#define RTLNF_CONSOLE_RX_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of received data buffered between the ISR and the main loop. */
#define CONSOLE_RX_BYTES 1024u

void console_rx_init(void);

/* From the UART ISR: queue one received byte (dropped and counted when the ring is full). */
void console_rx_push(uint8_t byte);

/* From the UART ISR: the UART itself lost data (hardware overrun). */
void console_rx_hw_overrun(void);

/* Bytes waiting in the ring (for board_idle's check before sleeping). */
size_t console_rx_pending(void);

#endif /* RTLNF_CONSOLE_RX_H */
