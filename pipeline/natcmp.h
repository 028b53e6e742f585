/*
 * natcmp: natural order of names and paths: digit runs by value, the rest
 * bytewise (natcmp.c).
 */
#ifndef STUDY_NATCMP_H
#define STUDY_NATCMP_H

/* <0, 0 or >0 as a sorts before, with, or after b; neither may be NULL. */
int natcmp(const char *a, const char *b);

#endif
