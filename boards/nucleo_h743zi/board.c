/*
 * Board layer for the ST NUCLEO-H743ZI (STM32H743ZI, Cortex-M7). Registers from RM0433.
 *
 * Clock tree (stated here once; README.md refers to it):
 *   source  HSE 8 MHz in bypass mode from the ST-LINK's MCO; if HSE does not come up, HSI 64 MHz
 *   PLL1    reference 4 MHz (HSE/2 or HSI/16), VCO = 4 MHz * N, sysclk = VCO / 2
 *           silicon rev V: N = 240, VCO 960 MHz, sysclk 480 MHz at voltage scale VOS0, flash 4 WS
 *           silicon rev Y: N = 200, VCO 800 MHz, sysclk 400 MHz at VOS1 (rev Y has no VOS0), 2 WS
 *   buses   AHB/AXI = sysclk/2, APB1..4 = AHB/2 (120 MHz at 480 MHz)
 * Console: USART3 on PD8 (TX) / PD9 (RX), AF7: the ST-LINK virtual COM port, at CONSOLE_BAUD.
 *
 * Every hardware wait is bounded (wait_set): Renode models PWR only as a tag, and a real board with
 * a missing MCO link must still boot (on HSI) rather than hang.
 */
#include "core/board.h"
#include "arch/cortex_m7/cm7.h"
#include "arch/cortex_m7/console_rx.h"
#include "arch/cortex_m7/console_tx.h"
#include "board_irq.h"

#include <stdbool.h>

#define CONSOLE_BAUD 921600u

#define HSE_HZ 8000000u
#define HSI_HZ 64000000u
#define PLL_REF_HZ 4000000u

/* Loop iterations a hardware wait may take: ~10-50 ms on HSI, long enough for every ready flag
 * here on silicon (PLL lock is ~100 us), short enough that a flag an emulator never sets costs
 * little. */
#define WAIT_ITERATIONS 1000000u

/* RCC */
#define RCC_BASE 0x58024400u
#define RCC_CR         CM7_REG(RCC_BASE + 0x00u)
#define RCC_CFGR       CM7_REG(RCC_BASE + 0x10u)
#define RCC_D1CFGR     CM7_REG(RCC_BASE + 0x18u)
#define RCC_D2CFGR     CM7_REG(RCC_BASE + 0x1Cu)
#define RCC_D3CFGR     CM7_REG(RCC_BASE + 0x20u)
#define RCC_PLLCKSELR  CM7_REG(RCC_BASE + 0x28u)
#define RCC_PLLCFGR    CM7_REG(RCC_BASE + 0x2Cu)
#define RCC_PLL1DIVR   CM7_REG(RCC_BASE + 0x30u)
#define RCC_AHB4ENR    CM7_REG(RCC_BASE + 0xE0u)
#define RCC_APB1LENR   CM7_REG(RCC_BASE + 0xE8u)
#define RCC_APB4ENR    CM7_REG(RCC_BASE + 0xF4u)
#define RCC_RSR        CM7_REG(RCC_BASE + 0xD0u)

#define RCC_CR_HSEON    (1u << 16)
#define RCC_CR_HSERDY   (1u << 17)
#define RCC_CR_HSEBYP   (1u << 18)
#define RCC_CR_PLL1ON   (1u << 24)
#define RCC_CR_PLL1RDY  (1u << 25)
#define RCC_CFGR_SW_MASK   0x7u
#define RCC_CFGR_SW_PLL1   0x3u
#define RCC_CFGR_SWS_MASK  (0x7u << 3)
#define RCC_CFGR_SWS_PLL1  (0x3u << 3)
#define RCC_PLLSRC_HSI  0x0u
#define RCC_PLLSRC_HSE  0x2u
#define RCC_PLLCFGR_PLL1RGE_4_8MHZ (0x2u << 2)
#define RCC_PLLCFGR_DIVP1EN (1u << 16)
#define RCC_PLLCFGR_DIVQ1EN (1u << 17)
#define RCC_PLLCFGR_DIVR1EN (1u << 18)
#define RCC_AHB4ENR_GPIODEN (1u << 3)
#define RCC_APB1LENR_USART3EN (1u << 18)
#define RCC_APB4ENR_SYSCFGEN (1u << 1)
#define RCC_RSR_RMVF       (1u << 16)
#define RCC_RSR_IWDG1RSTF  (1u << 26)

/* IWDG1: counts the 32 kHz LSI; prescaler /32 (PR = 3) gives 1 ms per count, reload <= 4095. */
#define IWDG1_BASE 0x58004800u
#define IWDG1_KR       CM7_REG(IWDG1_BASE + 0x00u)
#define IWDG1_PR       CM7_REG(IWDG1_BASE + 0x04u)
#define IWDG1_RLR      CM7_REG(IWDG1_BASE + 0x08u)
#define IWDG1_SR       CM7_REG(IWDG1_BASE + 0x0Cu)
#define IWDG_KEY_RELOAD 0xAAAAu
#define IWDG_KEY_ACCESS 0x5555u
#define IWDG_KEY_START  0xCCCCu
#define IWDG_PR_DIV32   0x3u
#define IWDG_SR_PVU_RVU 0x3u

/* PWR, SYSCFG, FLASH, DBGMCU */
#define PWR_BASE 0x58024800u
#define PWR_CSR1       CM7_REG(PWR_BASE + 0x04u)
#define PWR_CR3        CM7_REG(PWR_BASE + 0x0Cu)
#define PWR_D3CR       CM7_REG(PWR_BASE + 0x18u)
#define PWR_CSR1_ACTVOSRDY (1u << 13)
#define PWR_CR3_BYPASS (1u << 0)
#define PWR_CR3_LDOEN  (1u << 1)
#define PWR_CR3_SCUEN  (1u << 2)
#define PWR_D3CR_VOS_MASK   (0x3u << 14)
#define PWR_D3CR_VOS_SCALE1 (0x3u << 14)
#define PWR_D3CR_VOSRDY     (1u << 13)
#define SYSCFG_PWRCR   CM7_REG(0x58000400u + 0x2Cu)
#define SYSCFG_PWRCR_ODEN (1u << 0)
#define FLASH_ACR      CM7_REG(0x52002000u)
#define DBGMCU_IDCODE  CM7_REG(0x5C001000u)
#define DBGMCU_REV_Y   0x1003u

/* GPIOD, USART3 */
#define GPIOD_BASE 0x58020C00u
#define GPIOD_MODER    CM7_REG(GPIOD_BASE + 0x00u)
#define GPIOD_OSPEEDR  CM7_REG(GPIOD_BASE + 0x08u)
#define GPIOD_AFRH     CM7_REG(GPIOD_BASE + 0x24u)
#define USART3_BASE 0x40004800u
#define USART3_CR1     CM7_REG(USART3_BASE + 0x00u)
#define USART3_BRR     CM7_REG(USART3_BASE + 0x0Cu)
#define USART3_ISR     CM7_REG(USART3_BASE + 0x1Cu)
#define USART3_ICR     CM7_REG(USART3_BASE + 0x20u)
#define USART3_RDR     CM7_REG(USART3_BASE + 0x24u)
#define USART3_TDR     CM7_REG(USART3_BASE + 0x28u)
#define USART_CR1_UE     (1u << 0)
#define USART_CR1_RE     (1u << 2)
#define USART_CR1_TE     (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_TXEIE  (1u << 7)   /* TXFNFIE: the FIFO stays disabled, so "TX data register empty" */
#define USART_ISR_PE   (1u << 0)
#define USART_ISR_FE   (1u << 1)
#define USART_ISR_NE   (1u << 2)
#define USART_ISR_ORE  (1u << 3)
#define USART_ISR_RXNE (1u << 5)
#define USART_ISR_TXE  (1u << 7)
#define USART3_IRQ 39u

typedef struct {
    uint32_t pll_n;
    uint32_t flash_latency;
    uint32_t flash_wrhighfreq;
    bool vos0;
} clock_plan_t;

static const clock_plan_t PLAN_REV_V = {.pll_n = 240, .flash_latency = 4, .flash_wrhighfreq = 2, .vos0 = true};
static const clock_plan_t PLAN_REV_Y = {.pll_n = 200, .flash_latency = 2, .flash_wrhighfreq = 2, .vos0 = false};

static uint32_t s_cpu_hz = HSI_HZ;
static const char *s_clock_source = "HSI 64 MHz (PLL1 not started)";

/* Waits until (reg & mask) == value; false after WAIT_ITERATIONS polls. */
static bool wait_bits(volatile uint32_t *reg, uint32_t mask, uint32_t value)
{
    for (uint32_t i = 0; i < WAIT_ITERATIONS; i++) {
        if ((*reg & mask) == value) {
            return true;
        }
    }
    return false;
}

static bool raise_core_voltage(const clock_plan_t *plan)
{
    /* Supply from the LDO (the NUCLEO's default); CR3 is write-once after reset. */
    PWR_CR3 = (PWR_CR3 & ~(PWR_CR3_SCUEN | PWR_CR3_BYPASS)) | PWR_CR3_LDOEN;
    (void)wait_bits(&PWR_CSR1, PWR_CSR1_ACTVOSRDY, PWR_CSR1_ACTVOSRDY); /* not modelled by Renode */

    PWR_D3CR = (PWR_D3CR & ~PWR_D3CR_VOS_MASK) | PWR_D3CR_VOS_SCALE1;
    if (!wait_bits(&PWR_D3CR, PWR_D3CR_VOSRDY, PWR_D3CR_VOSRDY)) {
        return false;
    }
    if (plan->vos0) {
        RCC_APB4ENR |= RCC_APB4ENR_SYSCFGEN;
        (void)RCC_APB4ENR; /* read back: the clock is on before SYSCFG is written */
        SYSCFG_PWRCR |= SYSCFG_PWRCR_ODEN;
        if (!wait_bits(&PWR_D3CR, PWR_D3CR_VOSRDY, PWR_D3CR_VOSRDY)) {
            return false;
        }
    }
    return true;
}

static void start_clocks(void)
{
    const clock_plan_t *plan = ((DBGMCU_IDCODE >> 16) == DBGMCU_REV_Y) ? &PLAN_REV_Y : &PLAN_REV_V;

    /* Bus prescalers first, so that APB1 = sysclk / 4 on every path below, fallbacks included. */
    RCC_D1CFGR = (0x8u << 0) | (0x4u << 4);  /* HPRE /2, D1PPRE /2, D1CPRE /1 */
    RCC_D2CFGR = (0x4u << 4) | (0x4u << 8);  /* D2PPRE1 /2, D2PPRE2 /2 */
    RCC_D3CFGR = (0x4u << 4);                /* D3PPRE /2 */


    if (!raise_core_voltage(plan)) {
        s_clock_source = "HSI 64 MHz (core voltage not ready)";
        return;
    }

    uint32_t pll_src = RCC_PLLSRC_HSE;
    uint32_t pll_m = HSE_HZ / PLL_REF_HZ;
    const char *source = "HSE 8 MHz bypass";
    RCC_CR |= RCC_CR_HSEBYP;
    RCC_CR |= RCC_CR_HSEON;
    if (!wait_bits(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY)) {
        RCC_CR &= ~(RCC_CR_HSEON | RCC_CR_HSEBYP);
        pll_src = RCC_PLLSRC_HSI;
        pll_m = HSI_HZ / PLL_REF_HZ;
        source = "HSI 64 MHz (no HSE)";
    }

    /* Flash wait states first: they must cover the higher clock before it is selected. */
    FLASH_ACR = plan->flash_latency | (plan->flash_wrhighfreq << 4);
    if (!wait_bits(&FLASH_ACR, 0x3Fu, plan->flash_latency | (plan->flash_wrhighfreq << 4))) {
        s_clock_source = "HSI 64 MHz (flash latency not accepted)";
        return;
    }

    RCC_PLLCKSELR = (RCC_PLLCKSELR & ~(0x3u | (0x3Fu << 4))) | pll_src | (pll_m << 4);
    RCC_PLLCFGR = RCC_PLLCFGR_PLL1RGE_4_8MHZ | RCC_PLLCFGR_DIVP1EN | RCC_PLLCFGR_DIVQ1EN |
                  RCC_PLLCFGR_DIVR1EN; /* wide VCO, integer mode */
    RCC_PLL1DIVR = (plan->pll_n - 1u) | ((2u - 1u) << 9) | ((4u - 1u) << 16) | ((2u - 1u) << 24);
    RCC_CR |= RCC_CR_PLL1ON;
    if (!wait_bits(&RCC_CR, RCC_CR_PLL1RDY, RCC_CR_PLL1RDY)) {
        s_clock_source = "HSI 64 MHz (PLL1 did not lock)";
        return;
    }
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL1;
    if (!wait_bits(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL1)) {
        s_clock_source = "HSI 64 MHz (switch to PLL1 failed)";
        return;
    }
    s_cpu_hz = PLL_REF_HZ * plan->pll_n / 2u;
    s_clock_source = source;
}

static void start_console(void)
{
    console_rx_init();
    console_tx_init();

    RCC_AHB4ENR |= RCC_AHB4ENR_GPIODEN;
    RCC_APB1LENR |= RCC_APB1LENR_USART3EN;
    (void)RCC_APB1LENR;

    /* PD8 = USART3_TX, PD9 = USART3_RX: alternate function 7, high speed. */
    GPIOD_MODER = (GPIOD_MODER & ~(0xFu << 16)) | (0xAu << 16);
    GPIOD_OSPEEDR |= (0xFu << 16);
    GPIOD_AFRH = (GPIOD_AFRH & ~0xFFu) | 0x77u;

    /* USART3's kernel clock is APB1 (RCC_D2CCIP2R reset value) = sysclk / 4 (see start_clocks). */
    uint32_t pclk1 = s_cpu_hz / 4u;
    USART3_CR1 = 0;
    USART3_BRR = (pclk1 + CONSOLE_BAUD / 2u) / CONSOLE_BAUD;
    USART3_CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE;
    cm7_nvic_enable(USART3_IRQ, 0x40);
}

void board_init(void)
{
    start_clocks();
    cm7_enable_caches();
    start_console();
    cm7_systick_start(s_cpu_hz);
    cm7_enable_irq();
}

void USART3_IRQHandler(void)
{
    uint32_t isr = USART3_ISR;
    if (isr & USART_ISR_ORE) {
        console_rx_hw_overrun();
    }
    if (isr & (USART_ISR_ORE | USART_ISR_FE | USART_ISR_NE | USART_ISR_PE)) {
        USART3_ICR = isr & (USART_ISR_ORE | USART_ISR_FE | USART_ISR_NE | USART_ISR_PE);
    }
    while (USART3_ISR & USART_ISR_RXNE) {
        console_rx_push((uint8_t)USART3_RDR);
    }
    /* TX: refill the data register while it is empty; with the ring drained, stop the interrupt
     * (TXE stays set while the register is empty: left enabled it would fire forever). */
    if (USART3_CR1 & USART_CR1_TXEIE) {
        uint8_t byte;
        while (USART3_ISR & USART_ISR_TXE) {
            if (!console_tx_pop(&byte)) {
                USART3_CR1 &= ~USART_CR1_TXEIE;
                break;
            }
            USART3_TDR = byte;
        }
    }
}

void board_uart_tx_start(void)
{
    USART3_CR1 |= USART_CR1_TXEIE;    /* TXE is a level: the interrupt comes at once if the register is empty */
}

uint32_t board_cpu_hz(void)
{
    return s_cpu_hz;
}

const char *board_clock_source(void)
{
    return s_clock_source;
}

bool board_reset_was_watchdog(void)
{
    static int s_cause = -1;   /* read once: the flags are cleared so the next reset reports afresh */
    if (s_cause < 0) {
        s_cause = (RCC_RSR & RCC_RSR_IWDG1RSTF) != 0u;
        RCC_RSR |= RCC_RSR_RMVF;
    }
    return s_cause != 0;
}

void board_watchdog_start(uint32_t timeout_ms)
{
    uint32_t reload = timeout_ms < 4095u ? timeout_ms : 4095u;
    IWDG1_KR = IWDG_KEY_START;          /* starts the LSI too */
    IWDG1_KR = IWDG_KEY_ACCESS;
    IWDG1_PR = IWDG_PR_DIV32;
    IWDG1_RLR = reload;
    (void)wait_bits(&IWDG1_SR, IWDG_SR_PVU_RVU, 0u);
    IWDG1_KR = IWDG_KEY_RELOAD;
}

void board_watchdog_kick(void)
{
    IWDG1_KR = IWDG_KEY_RELOAD;
}
