namespace PublishingPoint.Media.IsoBmff;

/// <summary>What one 'traf' of a 'moof' says about its track's samples.</summary>
public sealed record TrackFragment
{
    public required uint TrackId { get; init; }

    /// <summary>Offset of the 'traf' box inside the 'moof' box bytes.</summary>
    public required int TrafOffset { get; init; }

    public required int SampleCount { get; init; }

    /// <summary>Sum of the sample durations, in the track's timescale.</summary>
    public required long SummedDuration { get; init; }

    /// <summary>Total sample bytes the runs refer to.</summary>
    public required long DataSize { get; init; }

    /// <summary>The first 'trun' data_offset: from the 'moof' start, or for a later 'traf' without
    /// default-base-is-moof, from the end of the previous track fragment's data (§8.8.7).</summary>
    public required long DataOffset { get; init; }

    public required bool FirstSampleIsSync { get; init; }

    /// <summary>'tfdt' baseMediaDecodeTime, when present.</summary>
    public long? DecodeTime { get; init; }

    /// <summary>MS-SSTR 'tfxd' absolute time and duration, when present.</summary>
    public long? TfxdTime { get; init; }

    public long? TfxdDuration { get; init; }

    /// <summary>The sample defaults in force for this 'traf' ('tfhd' values over 'trex').</summary>
    public SampleDefaults Defaults { get; init; }

    /// <summary>'tfhd' default-base-is-moof: data offsets count from the 'moof' even for a second 'traf'.</summary>
    public bool BaseIsMoof { get; init; }

    /// <summary>True when 'tfhd' carries an explicit base_data_offset (absolute file offsets).</summary>
    public bool HasExplicitBaseOffset { get; init; }
}
