/*
 * ltc_q15_m7.S - the two hot loops of the optimised LTC step (ARMv7E-M Thumb-2: Cortex-M4/M7).
 * Called from ltc_q15_step_m7.c; bit-exact with solver/ltc_q15.c, whose C states each operation.
 * Why assembly: the matrix-vector product wants all 14 usable registers (4 accumulators, 4 words
 * of the state vector, 4 words of weights, 2 pointers) and LDM loads, which the compiler does not
 * produce from C; and a counter-free unrolled sequence needs a computed entry.
 */
#if defined(__ARM_ARCH_7EM__) && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "solver/cortex_m7/ltc_q15_m7.h"

    .syntax unified
    .thumb
    .text

    .equ MAX_BLOCKS, LTC_Q15_M7_MAX_BLOCKS
    .equ BLOCK_BYTES, 84            /* 21 instructions of 4 bytes (.w forces the 32-bit encodings) */

/* acc_r += the 4 rows' weight words (one LDM) times the state word \vw, two lanes each (SMLAD). */
    .macro rows4 vw
    ldm.w   r0!, {r10, r11, r12, lr}
    smlad   r2, r10, \vw, r2
    smlad   r3, r11, \vw, r3
    smlad   r4, r12, \vw, r4
    smlad   r5, lr, \vw, r5
    .endm

/*
 * void ltc_q15_m7_accumulate(const int16_t *weights, const int32_t *bias, const int16_t *v,
 *                            int32_t *acc, uint32_t groups, uint32_t lanes)
 * Registers in the blocks: r0 weights (advancing through the whole packed array), r1 v,
 * r2-r5 the group's 4 accumulators, r6-r9 4 words of v, r10-r12 and lr 4 weight words.
 * Frame: [sp] bias, [sp+4] v, [sp+8] acc, [sp+12] end of the weights, [sp+16] block entry, [sp+20] half.
 */
    .global ltc_q15_m7_accumulate
    .type   ltc_q15_m7_accumulate, %function
    .thumb_func
ltc_q15_m7_accumulate:
    push    {r4-r11, lr}
    ldr     r4, [sp, #36]           /* groups */
    ldr     r5, [sp, #40]           /* lanes */
    sub     sp, sp, #24
    str     r1, [sp, #0]
    str     r2, [sp, #4]
    str     r3, [sp, #8]
    mul     r4, r4, r5              /* groups x lanes = 16-bit weights / 4 ... */
    add     r4, r0, r4, lsl #3      /* ... x 4 rows x 2 bytes: the end of the weights */
    str     r4, [sp, #12]
    lsrs    r6, r5, #3              /* full blocks of LTC_Q15_M7_LANES_PER_BLOCK = 8 lanes */
    adr.w   r7, .Lblocks_end
    movs    r8, #BLOCK_BYTES
    mls     r7, r6, r8, r7          /* enter so that exactly `blocks` blocks run */
    orr     r7, r7, #1              /* Thumb */
    str     r7, [sp, #16]
    and     r5, r5, #4              /* 4 lanes left: one half block */
    str     r5, [sp, #20]
.Lgroup:
    ldr     r1, [sp, #0]
    ldm     r1!, {r2-r5}            /* accumulators start at the bias */
    str     r1, [sp, #0]
    ldr     r6, [sp, #16]
    ldr     r1, [sp, #4]
    bx      r6
    .balign 4
.Lblocks:
    .rept MAX_BLOCKS
    ldm.w   r1!, {r6-r9}
    rows4   r6
    rows4   r7
    rows4   r8
    rows4   r9
    .endr
.Lblocks_end:
    .if (.Lblocks_end - .Lblocks) != MAX_BLOCKS * BLOCK_BYTES
    .error "a block is not BLOCK_BYTES long: the computed entry would land mid-block"
    .endif
    ldr     r6, [sp, #20]
    cbz     r6, .Lno_half
    ldrd    r6, r7, [r1], #8
    rows4   r6
    rows4   r7
.Lno_half:
    ldr     r1, [sp, #8]
    stm     r1!, {r2-r5}
    str     r1, [sp, #8]
    ldr     r1, [sp, #12]
    cmp     r0, r1
    bne     .Lgroup
    add     sp, sp, #24
    pop     {r4-r11, pc}
    .size   ltc_q15_m7_accumulate, . - ltc_q15_m7_accumulate

/*
 * void ltc_q15_m7_update(const int32_t *acc, const ltc_q15_neuron_t *neurons, int16_t *h,
 *                        uint32_t hidden, uint32_t dt_e)
 * Each `neuron` is ltc_q15_update of solver/ltc_q15.c, two an iteration:
 *   z = ssat12(acc >> shift); f = table[z]; g = inv_tau + (f << 15); q = hi(dt_e g); p = hi(dt_e (f << 15))
 *   num = h + smmulr(p, a); den = 2^16 + q; c = clz(den); n = num << c; d = den >> (16 - c)
 *   h = ssat16((n + d/2 - (n < 0 ? d : 0)) / d)
 * r0 acc, r1 neurons, r2 h, r3 table centre, r12 dt_e, lr end of h; r4-r8 temporaries.
 */
    .macro neuron
    ldr     r4, [r0], #4            /* acc */
    ldm     r1!, {r5, r6, r7}       /* shift, inv_tau, a_q31 */
    asr     r4, r4, r5
    ssat    r4, #12, r4             /* z, Q8 */
    ldrsh   r4, [r3, r4, lsl #1]    /* f, Q15 */
    lsl     r4, r4, #15             /* f << (17 - INV_TAU_EXP) */
    add     r6, r6, r4              /* 1/tau + f */
    umull   r5, r6, r12, r6         /* r6 = q = dt (1/tau + f), Q16 */
    umull   r5, r4, r12, r4         /* r4 = p = dt f, Q16 */
    smmulr  r4, r4, r7              /* dt f A, Q15 */
    ldrsh   r5, [r2]
    add     r4, r4, r5              /* num */
    add     r6, r6, #65536          /* den */
    clz     r5, r6
    lsl     r4, r4, r5              /* n */
    rsb     r5, r5, #16
    lsr     r6, r6, r5              /* d */
    and     r7, r6, r4, asr #31     /* d if n < 0, else 0 */
    add     r4, r4, r6, lsr #1
    sub     r4, r4, r7              /* n + d/2, or n + d/2 - d */
    sdiv    r4, r4, r6              /* rounded half away from zero */
    ssat    r4, #16, r4
    strh    r4, [r2], #2
    .endm

    .global ltc_q15_m7_update
    .type   ltc_q15_m7_update, %function
    .thumb_func
ltc_q15_m7_update:
    push    {r4-r8, lr}
    ldr     r12, [sp, #24]          /* dt_e */
    add     lr, r2, r3, lsl #1      /* end of h */
    tst     r3, #1                  /* two neurons an iteration: an odd count enters at the second */
    ldr     r3, =sigmoid_q15_table + 4096   /* entry of z = 0: z in [-2048, 2047] indexes directly */
    bne     .Lsecond
.Lneuron:
    neuron
.Lsecond:
    neuron
    cmp     r2, lr
    bne     .Lneuron
    pop     {r4-r8, pc}
    .ltorg
    .size   ltc_q15_m7_update, . - ltc_q15_m7_update

#endif
