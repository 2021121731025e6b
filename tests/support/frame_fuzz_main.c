/* Differential fuzz harness: feeds stdin to the firmware's frame decoder byte by byte and prints one
 * line per completed frame ("status hexbody"). Built with AddressSanitizer and UBSan by the tests. */
#include <stdio.h>

#include "core/frame.h"

int main(void)
{
    frame_decoder_t d;
    frame_decoder_init(&d);
    uint8_t body[FRAME_BODY_MAX + FRAME_CRC_BYTES];
    int c;
    while ((c = getchar()) != EOF) {
        size_t len = 0;
        frame_status_t st = frame_decoder_push(&d, (uint8_t)c, body, &len);
        if (st == FRAME_PENDING) {
            continue;
        }
        printf("%d ", (int)st);
        if (st == FRAME_OK) {
            for (size_t i = 0; i < len; i++) {
                printf("%02x", body[i]);
            }
        }
        printf("\n");
    }
    return 0;
}
