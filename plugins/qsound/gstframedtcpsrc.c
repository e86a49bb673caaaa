/* SCAFFOLD: replaced by the real element before landing. */
#include "qsoundelements.h"
typedef struct { GstElement parent; } GstFramedTcpSrc;
typedef struct { GstElementClass parent_class; } GstFramedTcpSrcClass;
GType gst_framedtcpsrc_get_type (void);
G_DEFINE_TYPE (GstFramedTcpSrc, gst_framedtcpsrc, GST_TYPE_ELEMENT);
static void gst_framedtcpsrc_class_init (GstFramedTcpSrcClass * k) {
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (k), "framedtcpsrc", "Generic", "scaffold", "qsound");
}
static void gst_framedtcpsrc_init (GstFramedTcpSrc * s) { }
GST_ELEMENT_REGISTER_DEFINE (framedtcpsrc, "framedtcpsrc", GST_RANK_NONE, gst_framedtcpsrc_get_type ());
