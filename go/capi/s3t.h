#ifndef S3T_H
#define S3T_H
#include <stdint.h>
#include <stdlib.h>

// s3t_table is a column-oriented result: nstr string columns and nint int64
// columns. A string column is its UTF-8 strings concatenated, each followed
// by one '\n' byte that is not part of it, with nrows+1 offsets: string i
// is str[off[i] .. off[i+1]-1). The separators let a reader split a column
// in one pass when no string holds a '\n' (then there are exactly nrows).
typedef struct {
	int64_t nrows;
	int32_t nstr;
	int32_t nint;
	char **str;
	int64_t **str_off;
	int64_t **ints;
} s3t_table;

#endif
