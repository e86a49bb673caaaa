/* SCAFFOLD: replaced by the real element before landing. */
#include "qsoundelements.h"
typedef struct { GstElement parent; } GstFramedTcpSink;
typedef struct { GstElementClass parent_class; } GstFramedTcpSinkClass;
GType gst_framedtcpsink_get_type (void);
G_DEFINE_TYPE (GstFramedTcpSink, gst_framedtcpsink, GST_TYPE_ELEMENT);
static void gst_framedtcpsink_class_init (GstFramedTcpSinkClass * k) {
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (k), "framedtcpsink", "Generic", "scaffold", "qsound");
}
static void gst_framedtcpsink_init (GstFramedTcpSink * s) { }
GST_ELEMENT_REGISTER_DEFINE (framedtcpsink, "framedtcpsink", GST_RANK_NONE, gst_framedtcpsink_get_type ());
