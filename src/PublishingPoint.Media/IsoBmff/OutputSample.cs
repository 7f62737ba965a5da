namespace PublishingPoint.Media.IsoBmff;

/// <summary>One sample to write into a fragment: duration in the track timescale, size in bytes, 'trun' sample flags, and the
/// signed composition offset (PTS - DTS in the track timescale).</summary>
public readonly record struct OutputSample(uint Duration, int Size, uint Flags, int CompositionOffset)
{
    /// <summary>§8.8.3.1 sample flags of a sync sample: sample_depends_on 2 (depends on no other sample).</summary>
    public const uint SyncFlags = 0x0200_0000;

    /// <summary>sample_depends_on 1 (depends on others) and sample_is_non_sync_sample set.</summary>
    public const uint NonSyncFlags = 0x0100_0000 | SampleDefaults.NonSyncFlag;

    public static OutputSample Create(uint duration, int size, bool isSync, int compositionOffset = 0) =>
        new(duration, size, isSync ? SyncFlags : NonSyncFlags, compositionOffset);

    public bool IsSync => SampleDefaults.IsSync(Flags);
}
