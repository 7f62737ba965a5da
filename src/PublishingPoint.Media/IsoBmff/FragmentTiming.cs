namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// Where an ingested single-track fragment sits on its track's timeline, and its samples there: the one rule every
/// ingest and the archive scan use, so what is indexed, archived and recovered agree.
/// </summary>
public static class FragmentTiming
{
    /// <summary>The fragment's time: MS-SSTR 'tfxd' first, then 'tfdt', else right after the track's previous fragment.</summary>
    public static long Time(TrackFragment traf, long? previousEnd)
    {
        ArgumentNullException.ThrowIfNull(traf);
        return traf.TfxdTime ?? traf.DecodeTime ?? previousEnd ?? 0;
    }

    public static long Duration(TrackFragment traf)
    {
        ArgumentNullException.ThrowIfNull(traf);
        return traf.TfxdDuration ?? traf.SummedDuration;
    }

    /// <summary>
    /// The samples of the fragment (<paramref name="fragment"/> holds at least its 'moof'; the whole is
    /// <paramref name="fragmentLength"/> bytes) with decode times on the track's timeline from <paramref name="time"/>.
    /// Without 'tfdt' the time is the 'tfxd' one, which ffmpeg's ismv muxer sets to the first sample's presentation
    /// time (decode time + composition offset): the decode times step back by that offset, once, here.
    /// </summary>
    public static FragmentSample[] Samples(ReadOnlySpan<byte> fragment, long fragmentLength, TrackFragment traf, SampleDefaults trex, long time)
    {
        ArgumentNullException.ThrowIfNull(traf);
        var samples = new List<FragmentSample>(traf.SampleCount);
        FragmentSamples.Read(fragment, fragmentLength, trex, time, samples);
        var shift = traf.DecodeTime is null && samples.Count > 0 ? samples[0].CompositionOffset : 0;
        var result = new FragmentSample[samples.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = shift == 0 ? samples[i] : samples[i] with { DecodeTime = samples[i].DecodeTime - shift };
        }

        return result;
    }
}
