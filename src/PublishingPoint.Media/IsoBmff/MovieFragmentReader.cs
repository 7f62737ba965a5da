namespace PublishingPoint.Media.IsoBmff;

/// <summary>Reads the track fragments of a 'moof' box (§8.8.4): 'tfhd', 'tfdt', 'trun' and MS-SSTR 'tfxd'.</summary>
public static class MovieFragmentReader
{
    /// <summary>
    /// Track fragments one 'moof' may hold: a multiplexed CMAF fragment has one per track (two or three). Each costs a
    /// few dozen bytes, so a 64 MB box could hold a million, each read, listed and (at ingest) split into a fragment.
    /// </summary>
    public const int MaxTrackFragments = 256;

    /// <summary>
    /// Parses every 'traf' of <paramref name="moof"/> (the whole box, header included).
    /// <paramref name="defaults"/> supplies 'trex' values per track id, or null when none are known.
    /// </summary>
    public static List<TrackFragment> Read(ReadOnlySpan<byte> moof, Func<uint, SampleDefaults>? defaults = null)
    {
        if (!BoxHeader.TryRead(moof, out var moofHeader) || moofHeader.Type != BoxTypes.Moof || moofHeader.Size != moof.Length)
        {
            throw new InvalidBoxException("expected one complete 'moof' box");
        }

        var result = new List<TrackFragment>(1);
        var samples = 0L;
        var children = new BoxReader(moof[moofHeader.HeaderLength..]);
        while (children.TryNext())
        {
            if (children.Header.Type == BoxTypes.Traf)
            {
                if (result.Count == MaxTrackFragments)
                {
                    throw InvalidBoxException.For(BoxTypes.Moof, $"holds over {MaxTrackFragments} track fragments");
                }

                var traf = ReadTraf(children.Payload, moofHeader.HeaderLength + children.Offset, defaults);
                samples += traf.SampleCount;
                if (samples > TrackRunReader.MaxSamples)
                {
                    // per 'moof', not per 'traf': else every track fragment of a box could announce the most
                    throw InvalidBoxException.For(BoxTypes.Moof, $"its track fragments hold over {TrackRunReader.MaxSamples} samples");
                }

                result.Add(traf);
            }
        }

        if (result.Count == 0)
        {
            throw new InvalidBoxException("'moof' holds no 'traf'");
        }

        return result;
    }

    private static TrackFragment ReadTraf(ReadOnlySpan<byte> traf, int trafOffset, Func<uint, SampleDefaults>? defaults)
    {
        TfhdBox? tfhd = null;
        SampleDefaults trackDefaults = default;
        TfdtBox? tfdt = null;
        TfxdBox? tfxd = null;
        var runs = new RunTotals();
        var boxes = new BoxReader(traf);
        while (boxes.TryNext())
        {
            var header = boxes.Header;
            if (header.Type == BoxTypes.Tfhd)
            {
                tfhd = TfhdBox.Read(boxes.Payload);
                trackDefaults = tfhd.Value.Over(defaults?.Invoke(tfhd.Value.TrackId) ?? default);
            }
            else if (header.Type == BoxTypes.Tfdt)
            {
                tfdt = TfdtBox.Read(boxes.Payload);
            }
            else if (header.Type == BoxTypes.Uuid && header.UserType == BoxTypes.Tfxd)
            {
                tfxd = TfxdBox.Read(boxes.Payload);
            }
            else if (header.Type == BoxTypes.Trun)
            {
                runs.Add(boxes.Payload, tfhd is null ? throw InvalidBoxException.For(header.Type, "comes before 'tfhd'") : trackDefaults);
            }
        }

        var head = tfhd ?? throw new InvalidBoxException("'traf' has no 'tfhd'");
        return new TrackFragment
        {
            TrackId = head.TrackId,
            TrafOffset = trafOffset,
            SampleCount = runs.SampleCount,
            SummedDuration = runs.Duration,
            DataSize = runs.DataSize,
            DataOffset = Math.Max(runs.DataOffset, 0),
            FirstSampleIsSync = runs.FirstSync ?? false,
            DecodeTime = tfdt?.BaseMediaDecodeTime,
            TfxdTime = tfxd?.Time,
            TfxdDuration = tfxd?.Duration,
            HasExplicitBaseOffset = head.BaseDataOffset is not null,
            BaseIsMoof = head.DefaultBaseIsMoof,
            Defaults = trackDefaults,
        };
    }

    /// <summary>What the 'trun' boxes of one 'traf' add up to.</summary>
    private struct RunTotals
    {
        public int SampleCount;
        public long Duration;
        public long DataSize;
        public long DataOffset = -1;
        public bool? FirstSync;

        public RunTotals()
        {
        }

        public void Add(ReadOnlySpan<byte> payload, SampleDefaults defaults)
        {
            var run = new TrackRunReader(payload, defaults);
            if (DataOffset < 0)
            {
                DataOffset = run.DataOffset ?? 0;
            }

            SampleCount += run.SampleCount;
            if (SampleCount > TrackRunReader.MaxSamples)
            {
                throw InvalidBoxException.For(BoxTypes.Trun, $"the fragment's runs hold over {TrackRunReader.MaxSamples} samples");
            }

            while (run.TryNext(out var sample))
            {
                FirstSync ??= SampleDefaults.IsSync(sample.Flags);
                Duration += sample.Duration;
                DataSize += sample.Size;
            }
        }
    }

    internal static void RequireLength(ReadOnlySpan<byte> payload, int length, FourCC type)
    {
        if (payload.Length < length)
        {
            throw InvalidBoxException.For(type, $"payload of {payload.Length} bytes is shorter than {length}");
        }
    }
}
