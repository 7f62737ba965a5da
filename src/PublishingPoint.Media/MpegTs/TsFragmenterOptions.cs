namespace PublishingPoint.Media.MpegTs;

public sealed record class TsFragmenterOptions
{
    /// <summary>A video fragment ends at the first keyframe at least this long (90 kHz ticks) after its start.</summary>
    public long TargetDuration90k { get; init; } = 180_000;

    /// <summary>Media timescale of the video track; audio uses its sample rate.</summary>
    public uint VideoTimescale { get; init; } = 90_000;

    public uint VideoTrackId { get; init; } = 1;

    public uint AudioTrackId { get; init; } = 2;

    /// <summary>Start every fragment with a 'styp' (DASH/CMAF media segments).</summary>
    public bool WithStyp { get; init; }

    /// <summary>
    /// With a video stream in the program, audio is cut at the video's boundaries; if none has come for this long
    /// (90 kHz ticks; video stalled or missing), audio is cut on its own at the target duration.
    /// </summary>
    public long AudioWaitLimit90k { get; init; } = 20 * 90_000;

    /// <summary>
    /// A video fragment that reaches this many bytes, or <see cref="MaxFragmentDuration90k"/>, without a keyframe to
    /// cut at is emitted as it stands: a stream without keyframes cannot make the fragmenter hold without bound.
    /// </summary>
    public int MaxFragmentBytes { get; init; } = 32 * 1024 * 1024;

    public long MaxFragmentDuration90k { get; init; } = 20 * 90_000;

    /// <summary>
    /// A video fragment that reaches this many samples is emitted as it stands: decode times that stand still are
    /// moved on by one tick each, so tiny access units at one time would otherwise fill a fragment with millions of
    /// samples inside its duration bound (20 s at 120 frames a second is 2,400).
    /// </summary>
    public int MaxFragmentSamples { get; init; } = 10_000;

    public static TsFragmenterOptions Default { get; } = new();
}
