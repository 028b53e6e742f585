/*
 * modelio: the model file (model.bin), little-endian:
 *   off  size  field
 *     0     8  magic "TOYLLM\0\n"
 *     8     4  u32 format version (1)
 *    12     4  u32 vocab size V
 *    16     4  u32 max sequence length
 *    20     4  u32 layers L
 *    24     4  u32 dim C
 *    28     4  u32 heads
 *    32     8  u64 tokenizer digest (FNV-1a-64 of vocab.txt)
 *    40     8  u64 parameter count N
 *    48     8  u64 payload digest (FNV-1a-64 of the N*4 payload bytes)
 *    56     4  u32 reserved (0)
 *    60     4  u32 header check (low 32 bits of FNV-1a-64 of bytes 0..59)
 *    64  N*4  float32 tensors in gpt_param_names order
 * Loading checks every field, the file size and both digests; any mismatch is
 * an error naming the field (the caller exits 2).
 */
#ifndef TOYLLM_MODELIO_H
#define TOYLLM_MODELIO_H

#include "gpt.h"

#define MODEL_MAGIC "TOYLLM\0\n"
#define MODEL_VERSION 1u
#define MODEL_HEADER 64

/* Serializes m into a fresh buffer the caller frees. */
unsigned char *model_serialize(const struct gpt *m, size_t *len, struct tl_err *e);
/* Writes dir/model.bin atomically. */
int model_save(const struct gpt *m, const char *dir, struct tl_err *e);
/* Builds m from a file's bytes. */
int model_deserialize(struct gpt *m, const unsigned char *buf, size_t len, struct tl_err *e);
/* Loads path (a model.bin file). */
int model_load(struct gpt *m, const char *path, struct tl_err *e);

#endif
