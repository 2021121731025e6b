/*
 * console_tx.h - the console's transmit side, shared by every Cortex-M7 board: a TX ring buffer
 * the board's UART interrupt handler drains, so the core sleeps (WFI) while a frame goes out
 * instead of polling the UART for each byte (at 921600 baud an 84-byte LATENT takes 0.9 ms, two
 * hundred times the encoder step).
 * The board supplies its ISR (which calls console_tx_pop) and board_uart_tx_start.
 */
#ifndef RTLNF_CONSOLE_TX_H
#define RTLNF_CONSOLE_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes queued between board_uart_write and the ISR: a burst of frames without waiting. */
#define CONSOLE_TX_BYTES 1024u

/* A full ring that takes no byte for this long (the UART is not clocked) drops the rest of a write
 * rather than hang the main loop. */
#define CONSOLE_TX_STALL_MS 50u

void console_tx_init(void);

/* From the UART ISR: the next byte to send; false when the ring is empty. */
bool console_tx_pop(uint8_t *byte);

/* Board: start transmitting from the ring if the UART is idle. Called with interrupts masked. */
void board_uart_tx_start(void);

#endif /* RTLNF_CONSOLE_TX_H */
