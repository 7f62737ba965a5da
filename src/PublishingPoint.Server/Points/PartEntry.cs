using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Server.Points;

/// <summary>
/// One low-latency chunk of the segment a track is building (an LL-HLS part): the moof+mdat the encoder sent, indexed
/// the moment its 'mdat' was complete and served from memory until its segment completes.
/// </summary>
public sealed class PartEntry(long time, long duration, TrackFragment traf, FragmentSample[] samples, byte[] bytes)
{
    public long Time { get; } = time;

    public long Duration { get; } = duration;

    public long End => Time + Duration;

    /// <summary>Starts with a sync sample: a player may start decoding here (EXT-X-PART INDEPENDENT=YES).</summary>
    public bool Independent => Traf.FirstSampleIsSync;

    public TrackFragment Traf { get; } = traf;

    /// <summary>The chunk's samples, parsed once when it arrived (data offsets into <see cref="Bytes"/>).</summary>
    public FragmentSample[] Samples { get; } = samples;

    public byte[] Bytes { get; } = bytes;
}
