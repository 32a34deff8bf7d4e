#ifndef SIGHTLINE_JPEG_DECODE_H
#define SIGHTLINE_JPEG_DECODE_H
#include <stddef.h>

/* Decodes a JPEG of any colour space to 8-bit grey in one pass: reads the header, refuses an
   image of more than `max_pixels` before allocating, then fills `*grey` (malloc'd, width × height
   bytes; release it with sightline_jpeg_free). libjpeg reports corrupt data with longjmp here,
   never by exiting the process. Returns 0 on success, else -1 and a NUL-terminated message in
   `error` (at most `error_size` bytes). */
int sightline_jpeg_decode_grey(const unsigned char *data, size_t size, size_t max_pixels, unsigned char **grey,
                               int *width, int *height, char *error, size_t error_size);

void sightline_jpeg_free(unsigned char *grey);
#endif
