/*
 * natcmp: natural order of names and paths (one home, used by `study why`
 * and `study report`): runs of digits compare by value, leading zeros
 * ignored (m2 < m10, evaluations[2] < evaluations[10]); everything else
 * bytewise; a prefix sorts first.
 */
#include "natcmp.h"

#include <string.h>

int natcmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			const char *x = a, *y = b;
			while (*x == '0')
				x++;
			while (*y == '0')
				y++;
			size_t lx = 0, ly = 0;
			while (x[lx] >= '0' && x[lx] <= '9')
				lx++;
			while (y[ly] >= '0' && y[ly] <= '9')
				ly++;
			if (lx != ly)
				return lx < ly ? -1 : 1;
			int c = memcmp(x, y, lx);
			if (c)
				return c;
			a = x + lx;
			b = y + ly;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}
