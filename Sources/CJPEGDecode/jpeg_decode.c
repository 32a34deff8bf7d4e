#include "include/jpeg_decode.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

/* libjpeg's default error handler calls exit(): a corrupt upload would end the coordinator.
   This one jumps back to the caller with libjpeg's message instead. */
struct trap {
    struct jpeg_error_mgr base;
    jmp_buf back;
    char message[JMSG_LENGTH_MAX];
};

static void trap_exit(j_common_ptr info) {
    struct trap *trap = (struct trap *)info->err;
    (*info->err->format_message)(info, trap->message);
    longjmp(trap->back, 1);
}

static void quiet(j_common_ptr info) { (void)info; }

/* A progressive JPEG may hold thousands of scans, each a pass over the whole image: past this
   many it is refused (real photographs have about ten). */
#define MAX_SCANS 64
/* Memory libjpeg may take for one image (a progressive 40-megapixel colour image fits). */
#define MAX_MEMORY (320L * 1024 * 1024)

static void limit_scans(j_common_ptr info) {
    if (info->is_decompressor && ((j_decompress_ptr)info)->input_scan_number > MAX_SCANS) {
        struct trap *trap = (struct trap *)info->err;
        snprintf(trap->message, sizeof trap->message, "more than %d scans", MAX_SCANS);
        longjmp(trap->back, 1);
    }
}

static int begin(struct jpeg_decompress_struct *info, struct trap *trap, const unsigned char *data, size_t size) {
    info->err = jpeg_std_error(&trap->base);
    trap->base.error_exit = trap_exit;
    trap->base.output_message = quiet;
    trap->message[0] = 0;
    jpeg_create_decompress(info);
    info->mem->max_memory_to_use = MAX_MEMORY;
    jpeg_mem_src(info, data, (unsigned long)size);
    return jpeg_read_header(info, TRUE) == JPEG_HEADER_OK ? 0 : -1;
}

static void say(char *error, size_t error_size, const char *text) {
    if (error_size > 0) snprintf(error, error_size, "%s", text[0] ? text : "not a readable JPEG");
}

void sightline_jpeg_free(unsigned char *grey) { free(grey); }

int sightline_jpeg_decode_grey(const unsigned char *data, size_t size, size_t max_pixels, unsigned char **grey,
                               int *width, int *height, char *error, size_t error_size) {
    struct jpeg_decompress_struct info;
    struct trap trap;
    struct jpeg_progress_mgr progress = { .progress_monitor = limit_scans };
    /* volatile: changed between setjmp and a possible longjmp. */
    unsigned char *volatile pixels = NULL;
    *grey = NULL;
    if (setjmp(trap.back)) {
        say(error, error_size, trap.message);
        free(pixels);
        jpeg_destroy_decompress(&info);
        return -1;
    }
    if (begin(&info, &trap, data, size) != 0) {
        say(error, error_size, "no JPEG header");
        jpeg_destroy_decompress(&info);
        return -1;
    }
    size_t w = info.image_width, h = info.image_height;
    if (w == 0 || h == 0 || w > max_pixels || h > max_pixels || w * h > max_pixels) {
        snprintf(error, error_size, "image of %zu×%zu pixels: at most %zu pixels are read", w, h, max_pixels);
        jpeg_destroy_decompress(&info);
        return -1;
    }
    info.out_color_space = JCS_GRAYSCALE;
    info.progress = &progress;
    jpeg_start_decompress(&info);
    if (info.output_components != 1 || info.output_width != w || info.output_height != h) {
        say(error, error_size, "unexpected JPEG output size");
        jpeg_destroy_decompress(&info);
        return -1;
    }
    pixels = malloc(w * h);
    if (pixels == NULL) {
        say(error, error_size, "out of memory for the image");
        jpeg_destroy_decompress(&info);
        return -1;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels + (size_t)info.output_scanline * w;
        jpeg_read_scanlines(&info, &row, 1);
    }
    /* A cut-off or damaged stream is only a warning to libjpeg (it pads with grey): refuse it. */
    if (trap.base.num_warnings > 0) {
        say(error, error_size, "the JPEG data is cut off or damaged");
        free(pixels);
        jpeg_destroy_decompress(&info);
        return -1;
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    *grey = pixels;
    *width = (int)w;
    *height = (int)h;
    return 0;
}
