namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// Lists the samples of a single-track fragment (moof + mdat, as an encoder sends it) without allocating per
/// sample: the 'tfhd' defaults over the 'trex' ones, every 'trun' in order, data offsets relative to the 'moof'.
/// </summary>
public static class FragmentSamples
{
    /// <summary>
    /// Appends the samples of the first 'traf' to <paramref name="samples"/>, decode times counted from
    /// <paramref name="baseDecodeTime"/> (the fragment's time: ismv carries it in 'tfxd', not 'tfdt').
    /// Returns how many were appended. Every sample must lie inside <paramref name="fragment"/>.
    /// </summary>
    public static int Read(ReadOnlySpan<byte> fragment, SampleDefaults trackDefaults, long baseDecodeTime, List<FragmentSample> samples) =>
        Read(fragment, fragment.Length, trackDefaults, baseDecodeTime, samples);

    /// <summary>
    /// The same from the 'moof' alone (<paramref name="fragment"/> may end with it): the samples are checked to lie within
    /// <paramref name="fragmentLength"/> bytes (moof and mdat), as an archive scan knows without reading the media.
    /// </summary>
    public static int Read(ReadOnlySpan<byte> fragment, long fragmentLength, SampleDefaults trackDefaults, long baseDecodeTime, List<FragmentSample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (!BoxHeader.TryRead(fragment, out var moof) || moof.Type != BoxTypes.Moof || moof.Size > fragment.Length)
        {
            throw new InvalidBoxException("fragment does not start with a complete 'moof'");
        }

        var trafAt = BoxReader.Find(fragment[moof.HeaderLength..(int)moof.Size], BoxTypes.Traf, out var trafHeader);
        if (trafAt < 0)
        {
            throw new InvalidBoxException("'moof' holds no 'traf'");
        }

        var traf = fragment.Slice(moof.HeaderLength + trafAt + trafHeader.HeaderLength, (int)trafHeader.PayloadLength);
        var defaults = trackDefaults;
        var haveTfhd = false;
        var before = samples.Count;
        var decodeTime = baseDecodeTime;
        long nextData = 0;
        var boxes = new BoxReader(traf);
        while (boxes.TryNext())
        {
            if (boxes.Header.Type == BoxTypes.Tfhd)
            {
                var tfhd = TfhdBox.Read(boxes.Payload);
                if (tfhd.BaseDataOffset is not null)
                {
                    throw InvalidBoxException.For(BoxTypes.Tfhd, "an absolute base_data_offset cannot be resolved inside one fragment");
                }

                defaults = tfhd.Over(defaults);
                haveTfhd = true;
            }
            else if (boxes.Header.Type == BoxTypes.Trun)
            {
                if (!haveTfhd)
                {
                    throw InvalidBoxException.For(BoxTypes.Trun, "comes before 'tfhd'");
                }

                // Base is the 'moof' (default-base-is-moof, or the implicit base of the first 'traf');
                // a run without data_offset continues where the previous one ended.
                var run = new TrackRunReader(boxes.Payload, defaults);
                if (samples.Count - before + run.SampleCount > TrackRunReader.MaxSamples)
                {
                    throw InvalidBoxException.For(BoxTypes.Trun, $"the fragment's runs hold over {TrackRunReader.MaxSamples} samples");
                }

                var data = run.DataOffset is { } offset ? offset : nextData;
                while (run.TryNext(out var sample))
                {
                    if (data < 0 || data + sample.Size > fragmentLength)
                    {
                        throw InvalidBoxException.For(BoxTypes.Trun, "a sample lies outside the fragment");
                    }

                    samples.Add(new FragmentSample(decodeTime, sample.Duration, sample.CompositionOffset, (int)sample.Size, sample.Flags, (int)data));
                    decodeTime += sample.Duration;
                    data += sample.Size;
                }

                nextData = data;
            }
        }

        if (!haveTfhd)
        {
            throw new InvalidBoxException("'traf' has no 'tfhd'");
        }

        return samples.Count - before;
    }
}
