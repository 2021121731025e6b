/* Device interrupt handlers of this board (board.c), placed in the vector table by startup.c. */
#ifndef RTLNF_BOARD_IRQ_H
#define RTLNF_BOARD_IRQ_H

void UART0_RX_IRQHandler(void);
void UART0_TX_IRQHandler(void);

#endif /* RTLNF_BOARD_IRQ_H */
