/*
 * hitwriter: records cache hits in the provenance database from a second
 * thread, so that on a rerun the main thread's lookups (key, readlink, stat)
 * overlap the SQLite inserts instead of alternating with them.
 *
 * Only the writer thread touches the prov handle between hit_writer_add()
 * and the next hit_writer_sync(): the caller syncs before any other use of
 * it (recording another execution, committing). Hits are inserted in the
 * order added, each with prov_record_exec(), so ids and seals are exactly
 * those a synchronous caller would get. The caller opens the transaction
 * (prov_begin) before adding.
 */
#ifndef STUDY_HITWRITER_H
#define STUDY_HITWRITER_H

#include "prov.h"
#include "strbuf.h"

struct hit_writer;

/* NULL when no thread could be started: record hits synchronously then. */
struct hit_writer *hit_writer_start(struct prov *pv);

/* Queue a cache hit. e's strings other than cache_key and output_digest
 * (copied here) must stay valid until the next hit_writer_sync(). */
void hit_writer_add(struct hit_writer *w, const struct prov_exec *e);

/* Wait until every queued hit is recorded. 0, or -1 with the first
 * recording error in err (the hits after it were not recorded). */
int hit_writer_sync(struct hit_writer *w, struct strbuf *err);

/* Sync, stop the thread, free. */
void hit_writer_stop(struct hit_writer *w);

#endif
