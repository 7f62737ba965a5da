using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;

namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// Receives what <see cref="TsDemuxer"/> finds. Timestamps are on the 90 kHz clock, unwrapped to a 64-bit timeline
/// that only moves forward. Spans are valid during the call only; copy what must be kept.
/// </summary>
public interface ITsDemuxerSink
{
    /// <summary>The PMT was read (first time, or its elementary streams changed).</summary>
    void OnProgram(bool hasVideo, bool hasAudio);

    /// <summary>SPS/PPS seen for the first time (<paramref name="changed"/> false) or differing from before (true).</summary>
    void OnVideoConfiguration(AvcDecoderConfiguration configuration, bool changed);

    /// <summary>One H.264 access unit as AVCC (4-byte length prefixes) without AUD, SPS and PPS NAL units.</summary>
    void OnVideoAccessUnit(long dts90k, long pts90k, bool isKeyframe, ReadOnlySpan<byte> avcc);

    /// <summary>The ADTS headers' configuration, first time (<paramref name="changed"/> false) or after a change.</summary>
    void OnAudioConfiguration(AudioSpecificConfig configuration, bool changed);

    /// <summary>One raw AAC frame (ADTS header removed) and its presentation time.</summary>
    void OnAudioFrame(long pts90k, ReadOnlySpan<byte> rawFrame);

    /// <summary>
    /// A SCTE-35 splice_info_section (stream_type 0x86) with its splice time on the program's timeline (pts_adjustment
    /// applied), or null when it has none (an immediate splice, splice_null).
    /// </summary>
    void OnSpliceInfo(ReadOnlySpan<byte> section, long? time90k)
    {
    }
}
