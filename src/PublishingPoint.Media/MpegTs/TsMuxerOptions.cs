namespace PublishingPoint.Media.MpegTs;

public sealed record class TsMuxerOptions
{
    /// <summary>
    /// PCR = DTS - this offset (90 kHz ticks), so the PCR never runs ahead of the DTS it precedes.
    /// Near the origin of the timeline (0 &lt;= DTS &lt; offset) the PCR is held at 0 rather than wrapped.
    /// </summary>
    public long PcrOffset90k { get; init; } = 9_000;

    /// <summary>Consecutive AAC frames are grouped into one PES until they span this much time (90 kHz ticks).</summary>
    public long MaxAudioPesDuration90k { get; init; } = 8_100;

    /// <summary>
    /// Pad each elementary-stream PID to a multiple of 16 packets per segment (by spreading the last PES over more
    /// packets with adaptation-field stuffing) so any segment can be produced on its own with
    /// <see cref="TsContinuityCounters.ForAlignedSegment"/>. Costs at most 15 extra packets per PID and segment.
    /// </summary>
    public bool AlignContinuityCounters { get; init; }

    /// <summary>
    /// Declare a timed ID3 stream in the PMT (Apple's "Timed Metadata for HTTP Live Streaming": a
    /// metadata_pointer_descriptor for the program, stream_type 0x15 with a metadata_descriptor on
    /// <see cref="TsConstants.MetadataPid"/>), whether or not this segment carries a tag, so every segment of a stream
    /// has the same program map. The PMT's version_number is 1 with it, 0 without.
    /// </summary>
    public bool TimedId3 { get; init; }

    public static TsMuxerOptions Default { get; } = new();
}
