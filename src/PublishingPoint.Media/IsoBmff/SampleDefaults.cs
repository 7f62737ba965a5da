namespace PublishingPoint.Media.IsoBmff;

/// <summary>'trex' defaults (§8.8.3), applied when neither 'tfhd' nor 'trun' says otherwise.</summary>
public readonly record struct SampleDefaults(uint Duration, uint Size, uint Flags)
{
    /// <summary>sample_is_non_sync_sample, bit 16 of the sample flags (§8.8.3.1).</summary>
    public const uint NonSyncFlag = 0x0001_0000;

    public static bool IsSync(uint flags) => (flags & NonSyncFlag) == 0;
}
