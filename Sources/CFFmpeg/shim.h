#pragma once
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
#include <libavutil/channel_layout.h>

// FFmpeg's error macros do not import into Swift (FFmpeg 5.1); these do.
static inline int cff_averror(int posix) { return AVERROR(posix); }
static inline int cff_averror_eof(void) { return AVERROR_EOF; }
static inline int cff_eagain(void) { return AVERROR(EAGAIN); }
static inline int64_t cff_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline const char *cff_err2str(int code, char *buf, size_t size) {
    return av_make_error_string(buf, size, code);
}
