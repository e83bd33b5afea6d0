#include <string.h>

#include "farm_pixels.h"

// BT.709 coefficients scaled by 2^15 and by 219/255 (luma) or 224/255 (chroma): full-range RGB in, limited out.
enum {
    SHIFT = 15,
    YR = 5983, YG = 20127, YB = 2032,
    UR = -3298, UG = -11094, UB = 14392,
    VR = 14392, VG = -13072, VB = -1320,
};

// A pixel as one 32-bit lane: the loops below then vectorise with plain shifts and masks. Each loop is compiled
// for AVX2, SSE4.1 and the x86-64 baseline, chosen when the program loads (GCC and clang `target_clones`).
#if defined(__x86_64__)
#define VECTORISED __attribute__((target_clones("avx2", "sse4.1", "default")))
#else
#define VECTORISED
#endif

static inline uint32_t load(const uint8_t *p) {
    uint32_t value;
    memcpy(&value, p, 4);
    return value;
}

VECTORISED
static void luma_row(const uint8_t *restrict p, uint8_t *restrict y, int width) {
    for (int x = 0; x < width; x++) {
        uint32_t px = load(p + 4 * x);
        int r = px & 255, g = (px >> 8) & 255, b = (px >> 16) & 255;
        y[x] = (uint8_t)((YR * r + YG * g + YB * b + (16 << SHIFT) + (1 << (SHIFT - 1))) >> SHIFT);
    }
}

VECTORISED
// r, g and b are sums of a 2x2 block: two more bits to shift out.
static void chroma_row(const uint8_t *restrict a, const uint8_t *restrict b, uint8_t *restrict u, uint8_t *restrict v, int pairs) {
    for (int x = 0; x < pairs; x++) {
        uint32_t p0 = load(a + 8 * x), p1 = load(a + 8 * x + 4), p2 = load(b + 8 * x), p3 = load(b + 8 * x + 4);
        int r = (p0 & 255) + (p1 & 255) + (p2 & 255) + (p3 & 255);
        int g = ((p0 >> 8) & 255) + ((p1 >> 8) & 255) + ((p2 >> 8) & 255) + ((p3 >> 8) & 255);
        int bl = ((p0 >> 16) & 255) + ((p1 >> 16) & 255) + ((p2 >> 16) & 255) + ((p3 >> 16) & 255);
        int cu = (UR * r + UG * g + UB * bl + (128 << (SHIFT + 2)) + (1 << (SHIFT + 1))) >> (SHIFT + 2);
        int cv = (VR * r + VG * g + VB * bl + (128 << (SHIFT + 2)) + (1 << (SHIFT + 1))) >> (SHIFT + 2);
        u[x] = (uint8_t)(cu < 0 ? 0 : cu > 255 ? 255 : cu);
        v[x] = (uint8_t)(cv < 0 ? 0 : cv > 255 ? 255 : cv);
    }
}

void farm_rgba_to_yuv420p(const uint8_t *rgba, ptrdiff_t rgba_stride, int width, int height,
                          uint8_t *y, ptrdiff_t y_stride, uint8_t *u, ptrdiff_t u_stride, uint8_t *v, ptrdiff_t v_stride) {
    for (int row = 0; row < height; row += 2) {
        const uint8_t *top = rgba + (ptrdiff_t)row * rgba_stride;
        const uint8_t *bottom = row + 1 < height ? top + rgba_stride : top;  // an odd last row pairs with itself
        luma_row(top, y + (ptrdiff_t)row * y_stride, width);
        if (row + 1 < height) luma_row(bottom, y + (ptrdiff_t)(row + 1) * y_stride, width);
        uint8_t *ur = u + (ptrdiff_t)(row / 2) * u_stride, *vr = v + (ptrdiff_t)(row / 2) * v_stride;
        chroma_row(top, bottom, ur, vr, width / 2);
        if (width & 1) {  // an odd last column pairs with itself
            const uint8_t *a = top + 4 * (width - 1), *b = bottom + 4 * (width - 1);
            uint8_t pair[16];
            memcpy(pair, a, 4);
            memcpy(pair + 4, a, 4);
            memcpy(pair + 8, b, 4);
            memcpy(pair + 12, b, 4);
            chroma_row(pair, pair + 8, ur + width / 2, vr + width / 2, 1);
        }
    }
}
