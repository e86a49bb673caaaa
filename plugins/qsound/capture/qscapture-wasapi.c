/* qsound — WASAPI loopback capture backend (Windows).
 *
 * Copyright (C) 2026 The qsound authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Plain C + Win32/COM, no GLib or GStreamer types: this file builds with
 * mingw-w64 alone and runs under Wine (tests/wine/).
 *
 * One capture thread (COM MTA, registered with MMCSS as "Pro Audio") owns
 * every COM object.  It opens the render endpoint in shared-mode, event-driven
 * loopback and only copies what the audio engine delivers into the ring:
 *
 *  - WASAPI loopback delivers nothing while nothing plays, so the thread also
 *    runs a render stream on the same endpoint that plays silence
 *    (AUDCLNT_BUFFERFLAGS_SILENT): the engine keeps producing packets on its
 *    own clock.  The render stream's event also wakes the capture side, which
 *    works around loopback streams whose event never fires (before Windows 10).
 *  - AUDCLNT_BUFFERFLAGS_SILENT packets are written as silence, jumps of the
 *    device position are filled with silence, DATA_DISCONTINUITY marks DISCONT.
 *  - When following the default output, IMMNotificationClient's
 *    OnDefaultDeviceChanged (eRender, eConsole) and AUDCLNT_E_DEVICE_INVALIDATED
 *    reopen the stream on the new device; the time between the old stream's
 *    last packet and the new one's first (u64QPCPosition) is filled with
 *    silence and marked DISCONT.  The format of the first device is kept
 *    (AUTOCONVERTPCM) when the new one mixes in another format.
 *
 * qs_capture_wasapi_open_ex() with QS_WASAPI_FLOW_CAPTURE runs the same path
 * on a capture endpoint, with the silent render stream on the default render
 * endpoint: everything but the loopback flag runs under Wine (which refuses
 * loopback).  qs_capture_wasapi_open() takes that path when device names an
 * input (a microphone or line-in) rather than an output.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#define COBJMACROS
#include <windows.h>
#include <process.h>
#include <mmdeviceapi.h>
#include <audioclient.h>
#include <mmreg.h>
#include <ks.h>
#include <ksmedia.h>
#include <propidl.h>
#include <propsys.h>
#include <avrt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qscapture-private.h"

/* Our own GUID definitions: no dependency on which ones libuuid carries. */
static const GUID qs_clsid_mm_device_enumerator =
    { 0xbcde0395, 0xe52f, 0x467c, {0x8e, 0x3d, 0xc4, 0x57, 0x92, 0x91, 0x69, 0x2e} };
static const GUID qs_iid_mm_device_enumerator =
    { 0xa95664d2, 0x9614, 0x4f35, {0xa7, 0x46, 0xde, 0x8d, 0xb6, 0x36, 0x17, 0xe6} };
static const GUID qs_iid_mm_notification_client =
    { 0x7991eec9, 0x7e89, 0x4d85, {0x83, 0x90, 0x6c, 0x70, 0x3c, 0xec, 0x60, 0xc0} };
static const GUID qs_iid_unknown =
    { 0x00000000, 0x0000, 0x0000, {0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46} };
static const GUID qs_iid_audio_client =
    { 0x1cb9ad4c, 0xdbfa, 0x4c32, {0xb1, 0x78, 0xc2, 0xf5, 0x68, 0xa7, 0x03, 0xb2} };
static const GUID qs_iid_audio_capture_client =
    { 0xc8adbd64, 0xe71e, 0x48a0, {0xa4, 0xde, 0x18, 0x5c, 0x39, 0x5c, 0xd3, 0x17} };
static const GUID qs_iid_audio_render_client =
    { 0xf294acfc, 0x3146, 0x4483, {0xa7, 0xbf, 0xad, 0xdc, 0xa7, 0xc2, 0x60, 0xe2} };
static const GUID qs_subtype_pcm =
    { 0x00000001, 0x0000, 0x0010, {0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71} };
static const GUID qs_subtype_float =
    { 0x00000003, 0x0000, 0x0010, {0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71} };
static const PROPERTYKEY qs_pkey_friendly_name =
    { {0xa45c254e, 0xdf1c, 0x4efd, {0x80, 0x20, 0x67, 0xd1, 0x46, 0xa8, 0x50, 0xe0}}, 14 };

#define QS_WASAPI_E_NOTFOUND ((HRESULT) 0x80070490L)
#define QS_WASAPI_BUFFER_100NS 1000000  /* 100 ms engine buffer */
#define QS_WASAPI_RING_SECONDS 2
#define QS_WASAPI_REOPEN_TRIES 40       /* x 250 ms */
#define QS_WASAPI_MAX_FILL_SECONDS 10

/* ---- the notification client (called on an audio service thread) ---- */

typedef struct
{
  IMMNotificationClient iface;
  LONG ref;
  HANDLE reopen_event;          /* our own duplicate, closed with the object */
  EDataFlow flow;
} QsWasapiNotify;

static HRESULT STDMETHODCALLTYPE
qs_wasapi_notify_query_interface (IMMNotificationClient * iface, REFIID riid,
    void **object)
{
  if (IsEqualIID (riid, &qs_iid_unknown)
      || IsEqualIID (riid, &qs_iid_mm_notification_client)) {
    *object = iface;
    IMMNotificationClient_AddRef (iface);
    return S_OK;
  }
  *object = NULL;
  return E_NOINTERFACE;
}

static ULONG STDMETHODCALLTYPE
qs_wasapi_notify_add_ref (IMMNotificationClient * iface)
{
  QsWasapiNotify *self = (QsWasapiNotify *) iface;

  return (ULONG) InterlockedIncrement (&self->ref);
}

static ULONG STDMETHODCALLTYPE
qs_wasapi_notify_release (IMMNotificationClient * iface)
{
  QsWasapiNotify *self = (QsWasapiNotify *) iface;
  LONG ref = InterlockedDecrement (&self->ref);

  if (ref == 0) {
    CloseHandle (self->reopen_event);
    free (self);
  }
  return (ULONG) ref;
}

static HRESULT STDMETHODCALLTYPE
qs_wasapi_notify_state_changed (IMMNotificationClient * iface, LPCWSTR id,
    DWORD state)
{
  return S_OK;
}

static HRESULT STDMETHODCALLTYPE
qs_wasapi_notify_added (IMMNotificationClient * iface, LPCWSTR id)
{
  return S_OK;
}

static HRESULT STDMETHODCALLTYPE
qs_wasapi_notify_removed (IMMNotificationClient * iface, LPCWSTR id)
{
  return S_OK;
}

static HRESULT STDMETHODCALLTYPE
qs_wasapi_notify_default_changed (IMMNotificationClient * iface,
    EDataFlow flow, ERole role, LPCWSTR id)
{
  QsWasapiNotify *self = (QsWasapiNotify *) iface;

  /* only signal: the capture thread does the work */
  if (flow == self->flow && role == eConsole)
    SetEvent (self->reopen_event);
  return S_OK;
}

static HRESULT STDMETHODCALLTYPE
qs_wasapi_notify_property_changed (IMMNotificationClient * iface, LPCWSTR id,
    const PROPERTYKEY key)
{
  return S_OK;
}

static IMMNotificationClientVtbl qs_wasapi_notify_vtbl = {
  qs_wasapi_notify_query_interface,
  qs_wasapi_notify_add_ref,
  qs_wasapi_notify_release,
  qs_wasapi_notify_state_changed,
  qs_wasapi_notify_added,
  qs_wasapi_notify_removed,
  qs_wasapi_notify_default_changed,
  qs_wasapi_notify_property_changed,
};

/* ---- the backend ---- */

typedef struct
{
  QsCapture *cap;
  int loopback;                 /* loopback of a render endpoint, else a capture endpoint */
  EDataFlow flow;
  char *device_req;             /* NULL: follow the default endpoint */

  HANDLE thread;
  HANDLE stop_event;            /* manual reset: close() asks the thread to stop */
  HANDLE ready_event;           /* the thread finished opening (ok or not) */
  HANDLE reopen_event;          /* default endpoint changed */
  HANDLE capture_event;         /* capture stream has data */
  HANDLE render_event;          /* silent render stream wants data */
  volatile LONG force_reopen;   /* qs_capture_wasapi_reopen() was called */

  /* written by the thread before ready_event */
  int open_ok;
  char open_err[512];
  QsCaptureFormat format;

  /* owned by the thread */
  IMMDeviceEnumerator *enumerator;
  QsWasapiNotify *notify;
  IMMDevice *device;
  WCHAR *device_id;
  char device_name[256];
  IAudioClient *client;
  IAudioCaptureClient *capture;
  IAudioClient *render_audio;
  IAudioRenderClient *render;
  UINT32 render_frames;
  size_t bpf;
  UINT64 expected_pos;
  int have_pos;
  UINT64 last_end_qpc;          /* 100 ns units: when the last packet ended */
  int have_qpc;
  int fill_switch;              /* fill the switch's gap before the next packet */
  unsigned pending_flags;
} QsWasapi;

static const char *
qs_wasapi_hr_name (HRESULT hr)
{
  switch (hr) {
    case AUDCLNT_E_WRONG_ENDPOINT_TYPE:
      return "AUDCLNT_E_WRONG_ENDPOINT_TYPE";
    case AUDCLNT_E_DEVICE_INVALIDATED:
      return "AUDCLNT_E_DEVICE_INVALIDATED";
    case AUDCLNT_E_UNSUPPORTED_FORMAT:
      return "AUDCLNT_E_UNSUPPORTED_FORMAT";
    case AUDCLNT_E_DEVICE_IN_USE:
      return "AUDCLNT_E_DEVICE_IN_USE";
    case AUDCLNT_E_SERVICE_NOT_RUNNING:
      return "AUDCLNT_E_SERVICE_NOT_RUNNING";
    case AUDCLNT_E_ENDPOINT_CREATE_FAILED:
      return "AUDCLNT_E_ENDPOINT_CREATE_FAILED";
    case AUDCLNT_E_CPUUSAGE_EXCEEDED:
      return "AUDCLNT_E_CPUUSAGE_EXCEEDED";
    case AUDCLNT_E_RESOURCES_INVALIDATED:
      return "AUDCLNT_E_RESOURCES_INVALIDATED";
    case E_ACCESSDENIED:
      return "E_ACCESSDENIED";
    case E_OUTOFMEMORY:
      return "E_OUTOFMEMORY";
    case E_INVALIDARG:
      return "E_INVALIDARG";
    case QS_WASAPI_E_NOTFOUND:
      return "E_NOTFOUND";
    default:
      return "HRESULT";
  }
}

/* One sentence naming the cause and the fix. */
static void
qs_wasapi_describe (QsWasapi * w, char *err, size_t errlen, const char *call,
    HRESULT hr)
{
  const char *name = w->device_name[0] ? w->device_name : "the audio device";
  unsigned long code = (unsigned long) (ULONG) hr;
  const char *hrname = qs_wasapi_hr_name (hr);

  switch (hr) {
    case AUDCLNT_E_WRONG_ENDPOINT_TYPE:
      snprintf (err, errlen, "this audio system refuses loopback capture on "
          "'%s' (%s from %s, 0x%08lx); run qsound on Windows itself (Wine has "
          "no loopback capture) or capture a recording device instead",
          name, hrname, call, code);
      break;
    case AUDCLNT_E_DEVICE_IN_USE:
      snprintf (err, errlen, "'%s' is in exclusive use by another application "
          "(%s from %s, 0x%08lx); close that application or untick \"Allow "
          "applications to take exclusive control of this device\" in the "
          "device's properties", name, hrname, call, code);
      break;
    case AUDCLNT_E_SERVICE_NOT_RUNNING:
      snprintf (err, errlen, "the Windows Audio service is not running (%s "
          "from %s, 0x%08lx); start the \"Windows Audio\" service and try again",
          hrname, call, code);
      break;
    case AUDCLNT_E_DEVICE_INVALIDATED:
    case AUDCLNT_E_ENDPOINT_CREATE_FAILED:
      snprintf (err, errlen, "'%s' went away while it was being opened (%s "
          "from %s, 0x%08lx); check that it is plugged in and enabled in the "
          "Windows sound settings", name, hrname, call, code);
      break;
    case E_ACCESSDENIED:
      snprintf (err, errlen, "access to '%s' was denied (%s from %s, 0x%08lx); "
          "allow applications to use audio devices in the Windows privacy "
          "settings", name, hrname, call, code);
      break;
    case AUDCLNT_E_UNSUPPORTED_FORMAT:
      snprintf (err, errlen, "'%s' does not accept its own mix format for "
          "capture (%s from %s, 0x%08lx); choose another default format for "
          "it in the Windows sound settings", name, hrname, call, code);
      break;
    default:
      snprintf (err, errlen, "could not capture '%s': %s failed (%s 0x%08lx); "
          "check that the device works in the Windows sound settings",
          name, call, hrname, code);
      break;
  }
}

static void
qs_wasapi_utf8 (const WCHAR * in, char *out, size_t outlen)
{
  if (outlen == 0)
    return;
  out[0] = '\0';
  if (in && WideCharToMultiByte (CP_UTF8, 0, in, -1, out, (int) outlen,
          NULL, NULL) == 0)
    out[outlen - 1] = '\0';
}

static void
qs_wasapi_friendly_name (IMMDevice * device, char *out, size_t outlen)
{
  IPropertyStore *props = NULL;
  PROPVARIANT var;

  out[0] = '\0';
  if (FAILED (IMMDevice_OpenPropertyStore (device, STGM_READ, &props)))
    return;
  PropVariantInit (&var);
  if (SUCCEEDED (IPropertyStore_GetValue (props, &qs_pkey_friendly_name, &var))
      && var.vt == VT_LPWSTR)
    qs_wasapi_utf8 (var.pwszVal, out, outlen);
  PropVariantClear (&var);
  IPropertyStore_Release (props);
}

/* Mix format -> QsCaptureFormat; 0 if it is not one we copy as is. */
static int
qs_wasapi_parse_format (const WAVEFORMATEX * wfx, QsCaptureFormat * out)
{
  const WAVEFORMATEXTENSIBLE *ext = (const WAVEFORMATEXTENSIBLE *) wfx;
  int is_float = 0, is_pcm = 0;
  unsigned valid = wfx->wBitsPerSample;

  memset (out, 0, sizeof (*out));
  if (wfx->wFormatTag == WAVE_FORMAT_IEEE_FLOAT) {
    is_float = 1;
  } else if (wfx->wFormatTag == WAVE_FORMAT_PCM) {
    is_pcm = 1;
  } else if (wfx->wFormatTag == WAVE_FORMAT_EXTENSIBLE && wfx->cbSize >= 22) {
    if (IsEqualGUID (&ext->SubFormat, &qs_subtype_float))
      is_float = 1;
    else if (IsEqualGUID (&ext->SubFormat, &qs_subtype_pcm))
      is_pcm = 1;
    if (ext->Samples.wValidBitsPerSample)
      valid = ext->Samples.wValidBitsPerSample;
    out->channel_mask = ext->dwChannelMask;
  }

  if (is_float && wfx->wBitsPerSample == 32)
    out->format = QS_SAMPLE_F32LE;
  else if (is_pcm && wfx->wBitsPerSample == 16)
    out->format = QS_SAMPLE_S16LE;
  else if (is_pcm && wfx->wBitsPerSample == 32 && (valid == 24 || valid == 32))
    /* WASAPI left-justifies the valid bits (24 in 32 has its low byte
     * zero), so it is S32LE sample for sample; QS_SAMPLE_S24_32LE means
     * right-justified, as in GStreamer */
    out->format = QS_SAMPLE_S32LE;
  else
    return 0;
  if (wfx->nChannels == 0 || wfx->nSamplesPerSec == 0
      || wfx->nBlockAlign != wfx->nChannels * (wfx->wBitsPerSample / 8))
    return 0;
  out->rate = wfx->nSamplesPerSec;
  out->channels = wfx->nChannels;
  return 1;
}

static int
qs_wasapi_same_format (const QsCaptureFormat * a, const QsCaptureFormat * b)
{
  return a->format == b->format && a->rate == b->rate
      && a->channels == b->channels && a->channel_mask == b->channel_mask;
}

static void
qs_wasapi_make_wfx (const QsCaptureFormat * f, WAVEFORMATEXTENSIBLE * x)
{
  WORD bits = f->format == QS_SAMPLE_S16LE ? 16 : 32;

  memset (x, 0, sizeof (*x));
  x->Format.wFormatTag = WAVE_FORMAT_EXTENSIBLE;
  x->Format.nChannels = (WORD) f->channels;
  x->Format.nSamplesPerSec = f->rate;
  x->Format.wBitsPerSample = bits;
  x->Format.nBlockAlign = (WORD) (f->channels * bits / 8);
  x->Format.nAvgBytesPerSec = f->rate * x->Format.nBlockAlign;
  x->Format.cbSize = sizeof (WAVEFORMATEXTENSIBLE) - sizeof (WAVEFORMATEX);
  x->Samples.wValidBitsPerSample = bits;
  if (f->channel_mask)
    x->dwChannelMask = (DWORD) f->channel_mask;
  else if (f->channels == 1)
    x->dwChannelMask = SPEAKER_FRONT_CENTER;
  else if (f->channels == 2)
    x->dwChannelMask = SPEAKER_FRONT_LEFT | SPEAKER_FRONT_RIGHT;
  x->SubFormat = f->format == QS_SAMPLE_F32LE ? qs_subtype_float : qs_subtype_pcm;
}

/* Finds the endpoint to open: the default one, or device_req matched by
 * endpoint ID or friendly name.  Sets device, device_id, device_name. */
static int
qs_wasapi_find_device (QsWasapi * w, char *err, size_t errlen)
{
  const char *what = w->loopback ? "audio output" : "recording device";
  IMMDeviceCollection *all = NULL;
  UINT count = 0, i;
  HRESULT hr;
  char names[384] = "";
  size_t used = 0;

  if (!w->device_req) {
    hr = IMMDeviceEnumerator_GetDefaultAudioEndpoint (w->enumerator, w->flow,
        eConsole, &w->device);
    if (FAILED (hr)) {
      snprintf (err, errlen, "there is no %s to capture (no default %s "
          "endpoint, 0x%08lx); connect or enable one in the Windows sound "
          "settings", what, w->loopback ? "render" : "capture",
          (unsigned long) (ULONG) hr);
      return 0;
    }
  } else {
    hr = IMMDeviceEnumerator_EnumAudioEndpoints (w->enumerator, w->flow,
        DEVICE_STATE_ACTIVE, &all);
    if (SUCCEEDED (hr))
      hr = IMMDeviceCollection_GetCount (all, &count);
    if (FAILED (hr)) {
      snprintf (err, errlen, "could not list the %ss (0x%08lx); check that "
          "the Windows Audio service runs", what, (unsigned long) (ULONG) hr);
      if (all)
        IMMDeviceCollection_Release (all);
      return 0;
    }
    /* pass 0: exact ID or name, pass 1: name ignoring case */
    for (int pass = 0; pass < 2 && !w->device; pass++) {
      for (i = 0; i < count && !w->device; i++) {
        IMMDevice *dev = NULL;
        LPWSTR id = NULL;
        char id8[512], name[256];

        if (FAILED (IMMDeviceCollection_Item (all, i, &dev)))
          continue;
        name[0] = id8[0] = '\0';
        if (SUCCEEDED (IMMDevice_GetId (dev, &id))) {
          qs_wasapi_utf8 (id, id8, sizeof (id8));
          CoTaskMemFree (id);
        }
        qs_wasapi_friendly_name (dev, name, sizeof (name));
        if ((pass == 0 && (strcmp (id8, w->device_req) == 0
                    || strcmp (name, w->device_req) == 0))
            || (pass == 1 && _stricmp (name, w->device_req) == 0)) {
          w->device = dev;
          break;
        }
        if (pass == 0 && used + strlen (name) + 5 < sizeof (names)) {
          used += snprintf (names + used, sizeof (names) - used, "%s'%s'",
              used ? ", " : "", name);
        }
        IMMDevice_Release (dev);
      }
    }
    IMMDeviceCollection_Release (all);
    if (!w->device) {
      snprintf (err, errlen, "there is no %s named '%s' (%s: %s); set device "
          "to one of these names or to an endpoint ID, or leave it empty for "
          "the default", what, w->device_req, w->loopback ? "outputs" :
          "recording devices", used ? names : "none");
      return 0;
    }
  }

  if (FAILED (IMMDevice_GetId (w->device, &w->device_id)))
    w->device_id = NULL;
  qs_wasapi_friendly_name (w->device, w->device_name, sizeof (w->device_name));
  if (!w->device_name[0] && w->device_id)
    qs_wasapi_utf8 (w->device_id, w->device_name, sizeof (w->device_name));
  return 1;
}

/* Activates and initialises an IAudioClient (shared, event driven).  Tries a
 * 100 ms buffer, then the engine's default where that is refused. */
static HRESULT
qs_wasapi_init_client (IMMDevice * device, DWORD flags,
    const WAVEFORMATEX * wfx, HANDLE event, IAudioClient ** out,
    const char **call)
{
  const REFERENCE_TIME durations[2] = { QS_WASAPI_BUFFER_100NS, 0 };
  HRESULT hr = E_FAIL;

  *out = NULL;
  for (int i = 0; i < 2; i++) {
    IAudioClient *client = NULL;

    *call = "IMMDevice::Activate";
    hr = IMMDevice_Activate (device, &qs_iid_audio_client, CLSCTX_ALL, NULL,
        (void **) &client);
    if (FAILED (hr))
      return hr;
    *call = "IAudioClient::Initialize";
    hr = IAudioClient_Initialize (client, AUDCLNT_SHAREMODE_SHARED,
        flags | AUDCLNT_STREAMFLAGS_EVENTCALLBACK | AUDCLNT_STREAMFLAGS_NOPERSIST,
        durations[i], 0, wfx, NULL);
    if (SUCCEEDED (hr)) {
      *call = "IAudioClient::SetEventHandle";
      hr = IAudioClient_SetEventHandle (client, event);
    }
    if (SUCCEEDED (hr)) {
      *out = client;
      return hr;
    }
    IAudioClient_Release (client);
    if (hr != E_INVALIDARG && hr != AUDCLNT_E_BUFDURATION_PERIOD_NOT_EQUAL
        && hr != AUDCLNT_E_INVALID_DEVICE_PERIOD
        && hr != AUDCLNT_E_BUFFER_SIZE_ERROR)
      break;
  }
  return hr;
}

/* Opens the render stream that plays silence (not started), prefilled. */
static HRESULT
qs_wasapi_open_silence (QsWasapi * w, IMMDevice * device,
    const WAVEFORMATEX * wfx, DWORD flags, const char **call)
{
  BYTE *data;
  HRESULT hr;

  hr = qs_wasapi_init_client (device, flags, wfx, w->render_event,
      &w->render_audio, call);
  if (SUCCEEDED (hr)) {
    *call = "IAudioClient::GetBufferSize";
    hr = IAudioClient_GetBufferSize (w->render_audio, &w->render_frames);
  }
  if (SUCCEEDED (hr)) {
    *call = "IAudioClient::GetService(IAudioRenderClient)";
    hr = IAudioClient_GetService (w->render_audio,
        &qs_iid_audio_render_client, (void **) &w->render);
  }
  if (SUCCEEDED (hr)) {
    *call = "IAudioRenderClient::GetBuffer";
    hr = IAudioRenderClient_GetBuffer (w->render, w->render_frames, &data);
  }
  if (SUCCEEDED (hr)) {
    *call = "IAudioRenderClient::ReleaseBuffer";
    hr = IAudioRenderClient_ReleaseBuffer (w->render, w->render_frames,
        AUDCLNT_BUFFERFLAGS_SILENT);
  }
  return hr;
}

static void
qs_wasapi_close_stream (QsWasapi * w)
{
  if (w->client)
    IAudioClient_Stop (w->client);
  if (w->render_audio)
    IAudioClient_Stop (w->render_audio);
  if (w->capture)
    IAudioCaptureClient_Release (w->capture);
  if (w->render)
    IAudioRenderClient_Release (w->render);
  if (w->client)
    IAudioClient_Release (w->client);
  if (w->render_audio)
    IAudioClient_Release (w->render_audio);
  if (w->device)
    IMMDevice_Release (w->device);
  if (w->device_id)
    CoTaskMemFree (w->device_id);
  w->capture = NULL;
  w->render = NULL;
  w->client = NULL;
  w->render_audio = NULL;
  w->device = NULL;
  w->device_id = NULL;
  w->device_name[0] = '\0';
  w->have_pos = 0;
}

/* Opens the endpoint and its streams (not started).  keep: the format the
 * ring holds (NULL on the first open, then the mix format is taken). */
static int
qs_wasapi_open_stream (QsWasapi * w, const QsCaptureFormat * keep,
    char *err, size_t errlen)
{
  WAVEFORMATEX *mix = NULL;
  WAVEFORMATEXTENSIBLE want;
  const WAVEFORMATEX *use;
  QsCaptureFormat mixfmt, fmt;
  int mix_ok;
  DWORD convert = AUDCLNT_STREAMFLAGS_AUTOCONVERTPCM
      | AUDCLNT_STREAMFLAGS_SRC_DEFAULT_QUALITY;
  DWORD flags = w->loopback ? AUDCLNT_STREAMFLAGS_LOOPBACK : 0;
  IAudioClient *probe = NULL;
  const char *call = "IMMDevice::Activate";
  HRESULT hr;

  if (!qs_wasapi_find_device (w, err, errlen))
    return 0;

  hr = IMMDevice_Activate (w->device, &qs_iid_audio_client, CLSCTX_ALL, NULL,
      (void **) &probe);
  if (SUCCEEDED (hr)) {
    call = "IAudioClient::GetMixFormat";
    hr = IAudioClient_GetMixFormat (probe, &mix);
    IAudioClient_Release (probe);
  }
  if (FAILED (hr))
    goto failed;

  mix_ok = qs_wasapi_parse_format (mix, &mixfmt);
  if (!mix_ok) {
    /* not a layout we copy as is: ask the engine for float */
    memset (&mixfmt, 0, sizeof (mixfmt));
    mixfmt.format = QS_SAMPLE_F32LE;
    mixfmt.rate = mix->nSamplesPerSec;
    mixfmt.channels = mix->nChannels;
    if (mix->wFormatTag == WAVE_FORMAT_EXTENSIBLE && mix->cbSize >= 22)
      mixfmt.channel_mask = ((WAVEFORMATEXTENSIBLE *) mix)->dwChannelMask;
  }

  if (mix_ok && (!keep || qs_wasapi_same_format (keep, &mixfmt))) {
    fmt = mixfmt;
    use = mix;
    hr = qs_wasapi_init_client (w->device, flags, use, w->capture_event,
        &w->client, &call);
  } else {
    /* keep the ring's format (or get float): the engine converts */
    fmt = keep ? *keep : mixfmt;
    qs_wasapi_make_wfx (&fmt, &want);
    use = &want.Format;
    hr = qs_wasapi_init_client (w->device, flags | convert, use,
        w->capture_event, &w->client, &call);
    if (FAILED (hr) && keep && mix_ok && hr != AUDCLNT_E_WRONG_ENDPOINT_TYPE
        && hr != AUDCLNT_E_DEVICE_IN_USE
        && qs_capture_bytes_per_frame (&mixfmt) == w->bpf) {
      /* same frame size: the consumer can follow a format change */
      fmt = mixfmt;
      use = mix;
      hr = qs_wasapi_init_client (w->device, flags, use, w->capture_event,
          &w->client, &call);
    }
  }
  if (FAILED (hr))
    goto failed;

  call = "IAudioClient::GetService(IAudioCaptureClient)";
  hr = IAudioClient_GetService (w->client, &qs_iid_audio_capture_client,
      (void **) &w->capture);
  if (FAILED (hr))
    goto failed;

  if (w->loopback) {
    /* the silent render stream that keeps loopback packets flowing (in the
     * engine's own format: it need not match the capture stream's) */
    hr = qs_wasapi_open_silence (w, w->device, mix, 0, &call);
  } else {
    /* the test flow: the same silent render stream, on the default render
     * endpoint, so that everything but the loopback flag runs under Wine */
    IMMDevice *render_device = NULL;
    WAVEFORMATEX *render_mix = NULL;
    IAudioClient *render_probe = NULL;

    hr = IMMDeviceEnumerator_GetDefaultAudioEndpoint (w->enumerator, eRender,
        eConsole, &render_device);
    if (SUCCEEDED (hr)) {
      call = "IMMDevice::Activate (render)";
      hr = IMMDevice_Activate (render_device, &qs_iid_audio_client, CLSCTX_ALL,
          NULL, (void **) &render_probe);
      if (SUCCEEDED (hr)) {
        call = "IAudioClient::GetMixFormat (render)";
        hr = IAudioClient_GetMixFormat (render_probe, &render_mix);
        IAudioClient_Release (render_probe);
      }
      if (SUCCEEDED (hr))
        hr = qs_wasapi_open_silence (w, render_device, render_mix, 0, &call);
      if (render_mix)
        CoTaskMemFree (render_mix);
      IMMDevice_Release (render_device);
    } else {
      hr = S_OK;                /* no render endpoint: nothing to keep alive */
    }
  }
  if (FAILED (hr))
    goto failed;

  CoTaskMemFree (mix);
  w->format = fmt;
  return 1;

failed:
  qs_wasapi_describe (w, err, errlen, call, hr);
  if (mix)
    CoTaskMemFree (mix);
  qs_wasapi_close_stream (w);
  return 0;
}

static HRESULT
qs_wasapi_start_stream (QsWasapi * w)
{
  HRESULT hr = S_OK;

  if (w->render_audio)
    hr = IAudioClient_Start (w->render_audio);
  if (SUCCEEDED (hr))
    hr = IAudioClient_Start (w->client);
  w->have_pos = 0;
  return hr;
}

/* Tops the silent render stream up to its buffer size. */
static HRESULT
qs_wasapi_feed_silence (QsWasapi * w)
{
  UINT32 padding = 0, n;
  BYTE *data;
  HRESULT hr;

  hr = IAudioClient_GetCurrentPadding (w->render_audio, &padding);
  if (FAILED (hr) || padding >= w->render_frames)
    return hr;
  n = w->render_frames - padding;
  hr = IAudioRenderClient_GetBuffer (w->render, n, &data);
  if (FAILED (hr))
    return hr;
  return IAudioRenderClient_ReleaseBuffer (w->render, n,
      AUDCLNT_BUFFERFLAGS_SILENT);
}

/* QueryPerformanceCounter in 100 ns units, the clock of u64QPCPosition. */
static UINT64
qs_wasapi_now_100ns (void)
{
  LARGE_INTEGER now, freq;

  QueryPerformanceCounter (&now);
  QueryPerformanceFrequency (&freq);
  return (UINT64) ((double) now.QuadPart * 1e7 / (double) freq.QuadPart);
}

/* Writes silence for a span of time (100 ns units), at most
 * QS_WASAPI_MAX_FILL_SECONDS, marked DISCONT. */
static void
qs_wasapi_fill (QsWasapi * w, UINT64 span)
{
  UINT64 frames = span * w->format.rate / 10000000u;
  UINT64 max = (UINT64) w->format.rate * QS_WASAPI_MAX_FILL_SECONDS;

  if (frames > max)
    frames = max;
  if (frames > 0)
    qs_ring_write (w->cap->ring, NULL, (size_t) frames, QS_CAPTURE_DISCONT);
}

/* Copies every packet the engine holds into the ring. */
static HRESULT
qs_wasapi_drain (QsWasapi * w)
{
  QsRing *ring = w->cap->ring;

  for (;;) {
    BYTE *data = NULL;
    UINT32 frames = 0;
    DWORD flags = 0;
    UINT64 pos = 0, qpc = 0, duration;
    unsigned wflags = w->pending_flags;
    HRESULT hr;

    hr = IAudioCaptureClient_GetBuffer (w->capture, &data, &frames, &flags,
        &pos, &qpc);
    if (hr == AUDCLNT_S_BUFFER_EMPTY)
      return S_OK;
    if (FAILED (hr))
      return hr;

    duration = (UINT64) frames * 10000000u / w->format.rate;
    if (qpc == 0 || (flags & AUDCLNT_BUFFERFLAGS_TIMESTAMP_ERROR))
      qpc = qs_wasapi_now_100ns () - duration;
    if (w->fill_switch) {
      /* the first packet after a reopen: silence for the time between the
       * old stream's last packet and this one */
      if (w->have_qpc && qpc > w->last_end_qpc)
        qs_wasapi_fill (w, qpc - w->last_end_qpc);
      w->fill_switch = 0;
      wflags |= QS_CAPTURE_DISCONT;
    }
    if (flags & AUDCLNT_BUFFERFLAGS_DATA_DISCONTINUITY)
      wflags |= QS_CAPTURE_DISCONT;
    if (!(flags & AUDCLNT_BUFFERFLAGS_TIMESTAMP_ERROR)) {
      if (w->have_pos && pos > w->expected_pos) {
        UINT64 gap = pos - w->expected_pos;
        UINT64 max = (UINT64) w->format.rate * QS_WASAPI_MAX_FILL_SECONDS;

        qs_ring_write (ring, NULL, (size_t) (gap < max ? gap : max),
            QS_CAPTURE_DISCONT);
      }
      w->expected_pos = pos + frames;
      w->have_pos = 1;
    } else {
      w->have_pos = 0;
    }

    w->last_end_qpc = qpc + duration;
    w->have_qpc = 1;
    if (frames > 0) {
      qs_ring_write (ring, (flags & AUDCLNT_BUFFERFLAGS_SILENT) ? NULL : data,
          frames, wflags);
      w->pending_flags = 0;
    } else {
      w->pending_flags = wflags;
    }
    hr = IAudioCaptureClient_ReleaseBuffer (w->capture, frames);
    if (FAILED (hr))
      return hr;
  }
}

/* The default endpoint changed or the device went away: reopen (the same
 * device when one was asked for); the first packet of the new stream fills
 * the time since the old one's last packet with silence and is marked
 * DISCONT.  Returns 0 when the thread must end: a fatal error was set on
 * the ring, or close() asked it to stop. */
static int
qs_wasapi_reopen (QsWasapi * w, HRESULT why)
{
  QsCaptureFormat keep = w->format;
  WCHAR *old_id = NULL;
  char err[512] = "", old_name[256];
  int tries;

  if (why == S_OK && w->device_id) {
    /* a default change: nothing to do if it is the device we capture */
    IMMDevice *dev = NULL;
    LPWSTR id = NULL;
    int same = 0;

    if (SUCCEEDED (IMMDeviceEnumerator_GetDefaultAudioEndpoint (w->enumerator,
                w->flow, eConsole, &dev))) {
      if (SUCCEEDED (IMMDevice_GetId (dev, &id))) {
        same = wcscmp (id, w->device_id) == 0;
        CoTaskMemFree (id);
      }
      IMMDevice_Release (dev);
    }
    if (same)
      return 1;
  }

  /* keep what the old stream still holds (fails harmlessly if it is gone) */
  qs_wasapi_drain (w);
  if (w->device_id)
    old_id = _wcsdup (w->device_id);
  snprintf (old_name, sizeof (old_name), "%s", w->device_name);
  qs_wasapi_close_stream (w);

  for (tries = 0;; tries++) {
    HRESULT hr;

    if (qs_wasapi_open_stream (w, &keep, err, sizeof (err))) {
      hr = qs_wasapi_start_stream (w);
      if (SUCCEEDED (hr))
        break;
      qs_wasapi_describe (w, err, sizeof (err), "IAudioClient::Start", hr);
      qs_wasapi_close_stream (w);
    }
    if (tries + 1 >= QS_WASAPI_REOPEN_TRIES) {
      char msg[700];

      if (why == S_OK)
        snprintf (msg, sizeof (msg), "the default %s changed from '%s' and "
            "capture could not be reopened for 10 s: %s", w->loopback ?
            "output" : "recording device", old_name, err);
      else
        snprintf (msg, sizeof (msg), "lost '%s' (%s, 0x%08lx) and could not "
            "reopen capture for 10 s: %s", old_name, qs_wasapi_hr_name (why),
            (unsigned long) (ULONG) why, err);
      qs_ring_set_error (w->cap->ring, msg);
      free (old_id);
      return 0;
    }
    if (WaitForSingleObject (w->stop_event, 250) == WAIT_OBJECT_0) {
      free (old_id);
      return 0;
    }
  }

  w->fill_switch = 1;
  if (!old_id || !w->device_id || wcscmp (old_id, w->device_id) != 0)
    qs_ring_count_switch (w->cap->ring);
  free (old_id);
  qs_capture_set_device (w->cap, w->device_name);
  qs_capture_set_format (w->cap, &w->format);
  return 1;
}

static unsigned __stdcall
qs_wasapi_thread (void *data)
{
  QsWasapi *w = data;
  HANDLE waits[4];
  DWORD nwaits, task_index = 0;
  HANDLE mmcss;
  HRESULT hr, com;

  com = CoInitializeEx (NULL, COINIT_MULTITHREADED);
  if (FAILED (com)) {
    snprintf (w->open_err, sizeof (w->open_err), "could not initialise COM in "
        "the capture thread (0x%08lx); the process may have set up COM "
        "incompatibly", (unsigned long) (ULONG) com);
    SetEvent (w->ready_event);
    return 0;
  }
  /* not fatal: the thread then runs at normal priority */
  mmcss = AvSetMmThreadCharacteristicsW (L"Pro Audio", &task_index);

  hr = CoCreateInstance (&qs_clsid_mm_device_enumerator, NULL, CLSCTX_ALL,
      &qs_iid_mm_device_enumerator, (void **) &w->enumerator);
  if (FAILED (hr)) {
    snprintf (w->open_err, sizeof (w->open_err), "could not reach the Windows "
        "audio system (MMDeviceEnumerator, 0x%08lx); check that the Windows "
        "Audio service runs", (unsigned long) (ULONG) hr);
    goto done;
  }

  if (!w->device_req) {
    QsWasapiNotify *n = calloc (1, sizeof (QsWasapiNotify));

    if (n && DuplicateHandle (GetCurrentProcess (), w->reopen_event,
            GetCurrentProcess (), &n->reopen_event, 0, FALSE,
            DUPLICATE_SAME_ACCESS)) {
      n->iface.lpVtbl = &qs_wasapi_notify_vtbl;
      n->ref = 1;
      n->flow = w->flow;
      if (SUCCEEDED (IMMDeviceEnumerator_RegisterEndpointNotificationCallback
              (w->enumerator, &n->iface)))
        w->notify = n;
      else
        IMMNotificationClient_Release (&n->iface);
    } else {
      free (n);
    }
  }

  if (!qs_wasapi_open_stream (w, NULL, w->open_err, sizeof (w->open_err)))
    goto done;
  w->bpf = qs_capture_bytes_per_frame (&w->format);
  w->cap->ring = qs_ring_new ((size_t) w->format.rate * QS_WASAPI_RING_SECONDS,
      w->bpf);
  if (!w->cap->ring) {
    snprintf (w->open_err, sizeof (w->open_err), "out of memory for the "
        "capture buffer; close other applications and try again");
    goto done;
  }
  /* nobody reads yet: set directly, no format change to report */
  w->cap->format = w->format;
  qs_capture_set_device (w->cap, w->device_name);
  hr = qs_wasapi_start_stream (w);
  if (FAILED (hr)) {
    qs_wasapi_describe (w, w->open_err, sizeof (w->open_err),
        "IAudioClient::Start", hr);
    goto done;
  }
  w->open_ok = 1;
  SetEvent (w->ready_event);

  waits[0] = w->stop_event;
  waits[1] = w->reopen_event;
  waits[2] = w->capture_event;
  waits[3] = w->render_event;
  nwaits = 4;
  for (;;) {
    /* the timeout also drains a loopback stream whose event never fires */
    DWORD r = WaitForMultipleObjects (nwaits, waits, FALSE, 100);

    if (r == WAIT_OBJECT_0)
      break;
    if (r == WAIT_OBJECT_0 + 1) {
      HRESULT why = InterlockedExchange (&w->force_reopen, 0) ?
          AUDCLNT_E_DEVICE_INVALIDATED : S_OK;

      if (!qs_wasapi_reopen (w, why))
        break;
      continue;
    }
    if (r == WAIT_FAILED) {
      char msg[200];

      snprintf (msg, sizeof (msg), "the capture thread could not wait for "
          "the audio engine (error %lu); restart capture",
          (unsigned long) GetLastError ());
      qs_ring_set_error (w->cap->ring, msg);
      break;
    }
    hr = S_OK;
    if (w->render)
      hr = qs_wasapi_feed_silence (w);
    if (SUCCEEDED (hr))
      hr = qs_wasapi_drain (w);
    if (FAILED (hr)) {
      if (hr == AUDCLNT_E_DEVICE_INVALIDATED
          || hr == AUDCLNT_E_RESOURCES_INVALIDATED
          || hr == AUDCLNT_E_SERVICE_NOT_RUNNING
          || hr == AUDCLNT_E_ENDPOINT_CREATE_FAILED) {
        if (!qs_wasapi_reopen (w, hr))
          break;
      } else {
        char msg[512];

        qs_wasapi_describe (w, msg, sizeof (msg), "capturing", hr);
        qs_ring_set_error (w->cap->ring, msg);
        break;
      }
    }
  }

done:
  qs_wasapi_close_stream (w);
  if (w->notify) {
    IMMDeviceEnumerator_UnregisterEndpointNotificationCallback (w->enumerator,
        &w->notify->iface);
    IMMNotificationClient_Release (&w->notify->iface);
    w->notify = NULL;
  }
  if (w->enumerator)
    IMMDeviceEnumerator_Release (w->enumerator);
  w->enumerator = NULL;
  if (mmcss)
    AvRevertMmThreadCharacteristics (mmcss);
  CoUninitialize ();
  if (!w->open_ok)
    SetEvent (w->ready_event);
  return 0;
}

static void
qs_wasapi_free (QsWasapi * w)
{
  HANDLE *handles[] = { &w->stop_event, &w->ready_event, &w->reopen_event,
    &w->capture_event, &w->render_event, &w->thread
  };

  for (size_t i = 0; i < sizeof (handles) / sizeof (handles[0]); i++) {
    if (*handles[i])
      CloseHandle (*handles[i]);
  }
  free (w->device_req);
  free (w);
}

static void
qs_wasapi_close (QsCapture * cap)
{
  QsWasapi *w = cap->priv;

  if (!w)
    return;
  SetEvent (w->stop_event);
  WaitForSingleObject (w->thread, INFINITE);
  qs_wasapi_free (w);
  cap->priv = NULL;
}

QsCapture *
qs_capture_wasapi_open_ex (const char *device, int flow,
    QsCaptureFormat * out_format, char *err, size_t errlen)
{
  QsCapture *cap;
  QsWasapi *w;

  cap = qs_capture_alloc ();
  w = calloc (1, sizeof (QsWasapi));
  if (!cap || !w) {
    snprintf (err, errlen, "out of memory opening capture; close other "
        "applications and try again");
    free (w);
    qs_capture_close (cap);
    return NULL;
  }
  w->cap = cap;
  w->loopback = flow != QS_WASAPI_FLOW_CAPTURE;
  w->flow = w->loopback ? eRender : eCapture;
  if (device && device[0])
    w->device_req = _strdup (device);
  w->stop_event = CreateEventW (NULL, TRUE, FALSE, NULL);
  w->ready_event = CreateEventW (NULL, TRUE, FALSE, NULL);
  w->reopen_event = CreateEventW (NULL, FALSE, FALSE, NULL);
  w->capture_event = CreateEventW (NULL, FALSE, FALSE, NULL);
  w->render_event = CreateEventW (NULL, FALSE, FALSE, NULL);
  if (!w->stop_event || !w->ready_event || !w->reopen_event
      || !w->capture_event || !w->render_event) {
    snprintf (err, errlen, "could not create the capture thread's events "
        "(error %lu); close other applications and try again",
        (unsigned long) GetLastError ());
    qs_wasapi_free (w);
    qs_capture_close (cap);
    return NULL;
  }

  w->thread = (HANDLE) _beginthreadex (NULL, 0, qs_wasapi_thread, w, 0, NULL);
  if (!w->thread) {
    snprintf (err, errlen, "could not start the capture thread; close other "
        "applications and try again");
    qs_wasapi_free (w);
    qs_capture_close (cap);
    return NULL;
  }
  WaitForSingleObject (w->ready_event, INFINITE);
  if (!w->open_ok) {
    snprintf (err, errlen, "%s", w->open_err);
    WaitForSingleObject (w->thread, INFINITE);
    qs_wasapi_free (w);
    qs_capture_close (cap);
    return NULL;
  }

  cap->priv = w;
  cap->close = qs_wasapi_close;
  if (out_format)
    *out_format = w->format;
  return cap;
}

void
qs_capture_wasapi_reopen (QsCapture * cap)
{
  QsWasapi *w = cap->priv;

  InterlockedExchange (&w->force_reopen, 1);
  SetEvent (w->reopen_event);
}

/* device names an output (captured by loopback) or, failing that, an input
 * (a microphone or line-in: a capture endpoint, recorded directly) */
QsCapture *
qs_capture_wasapi_open (const char *device, QsCaptureFormat * out_format,
    char *err, size_t errlen)
{
  static const char no_output[] = "there is no audio output named '";
  static const char no_input[] = "there is no recording device named '";
  char in_err[512];
  QsCapture *cap;
  const char *outs, *ins;

  cap = qs_capture_wasapi_open_ex (device, QS_WASAPI_FLOW_LOOPBACK,
      out_format, err, errlen);
  if (cap || !device || !device[0]
      || strncmp (err, no_output, sizeof (no_output) - 1) != 0)
    return cap;
  cap = qs_capture_wasapi_open_ex (device, QS_WASAPI_FLOW_CAPTURE,
      out_format, in_err, sizeof (in_err));
  if (cap)
    return cap;
  if (strncmp (in_err, no_input, sizeof (no_input) - 1) != 0) {
    /* the input exists but could not be opened: that is the news */
    snprintf (err, errlen, "%s", in_err);
    return NULL;
  }
  /* both lists, from the two messages: "... (outputs: 'A', 'B'); set ..." */
  outs = strstr (err, "(outputs: ");
  ins = strstr (in_err, "(recording devices: ");
  {
    char o[400] = "none", i[400] = "none";
    const char *end;

    if (outs && (end = strstr (outs, "); set")))
      snprintf (o, sizeof (o), "%.*s", (int) (end - outs - 10), outs + 10);
    if (ins && (end = strstr (ins, "); set")))
      snprintf (i, sizeof (i), "%.*s", (int) (end - ins - 20), ins + 20);
    snprintf (err, errlen, "there is no audio output or input named '%s'; "
        "set device to one of the outputs (%s) or inputs (%s), or leave it "
        "empty for the default output", device, o, i);
  }
  return NULL;
}
