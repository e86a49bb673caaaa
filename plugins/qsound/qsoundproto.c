/* SCAFFOLD: replaced by the real protocol before landing. */
#include "qsoundproto.h"
