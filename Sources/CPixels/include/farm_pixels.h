#ifndef FARM_PIXELS_H
#define FARM_PIXELS_H

#include <stddef.h>
#include <stdint.h>

/// Converts a top-left RGBA picture (full-range sRGB, alpha ignored) to YUV 4:2:0, BT.709, limited range, with
/// each chroma sample the mean of its 2x2 block (centred, as libswscale places it). Even and odd sizes alike.
/// libswscale 5.1 has no SIMD path from RGBA to YUV 4:2:0: this loop, which compilers vectorise, does the same
/// in a fraction of its time (see bench/accounting.py).
void farm_rgba_to_yuv420p(const uint8_t *rgba, ptrdiff_t rgba_stride, int width, int height,
                          uint8_t *y, ptrdiff_t y_stride, uint8_t *u, ptrdiff_t u_stride, uint8_t *v, ptrdiff_t v_stride);

#endif
