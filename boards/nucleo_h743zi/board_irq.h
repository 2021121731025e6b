/* Device interrupt handlers of this board (board.c), placed in the vector table by startup.c. */
#ifndef RTLNF_BOARD_IRQ_H
#define RTLNF_BOARD_IRQ_H

void USART3_IRQHandler(void);

#endif /* RTLNF_BOARD_IRQ_H */
