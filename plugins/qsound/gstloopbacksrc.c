/* SCAFFOLD: replaced by the real element before landing. */
#include "qsoundelements.h"
typedef struct { GstElement parent; } GstLoopbackSrc;
typedef struct { GstElementClass parent_class; } GstLoopbackSrcClass;
GType gst_loopbacksrc_get_type (void);
G_DEFINE_TYPE (GstLoopbackSrc, gst_loopbacksrc, GST_TYPE_ELEMENT);
static void gst_loopbacksrc_class_init (GstLoopbackSrcClass * k) {
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (k), "loopbacksrc", "Generic", "scaffold", "qsound");
}
static void gst_loopbacksrc_init (GstLoopbackSrc * s) { }
GST_ELEMENT_REGISTER_DEFINE (loopbacksrc, "loopbacksrc", GST_RANK_NONE, gst_loopbacksrc_get_type ());
