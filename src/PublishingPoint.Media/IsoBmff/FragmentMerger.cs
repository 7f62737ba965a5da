namespace PublishingPoint.Media.IsoBmff;

/// <summary>One single-track fragment (moof with one 'traf', then its 'mdat') and what its 'traf' says.</summary>
public readonly record struct FragmentPart(byte[] Bytes, TrackFragment Traf);

/// <summary>
/// Joins consecutive single-track fragments of one track (low-latency chunks: a 'moof' per frame or two)
/// into one fragment: moof(mfhd, traf(tfhd default-base-is-moof, tfdt, one trun with every sample)) + mdat.
/// </summary>
public static class FragmentMerger
{
    public static byte[] Merge(IReadOnlyList<FragmentPart> parts, long decodeTime) => Merge(parts, decodeTime, out _);

    /// <summary>The same, with what the merged 'traf' says (as <see cref="MovieFragmentReader"/> would read it back).</summary>
    public static byte[] Merge(IReadOnlyList<FragmentPart> parts, long decodeTime, out TrackFragment traf)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0)
        {
            throw new ArgumentException("nothing to merge", nameof(parts));
        }

        long samples = 0;
        long data = 0;
        foreach (var part in parts)
        {
            // The 'traf' was read from the 'moof' alone: its samples must also lie inside this part's bytes.
            var chunk = part.Traf;
            if (chunk.DataOffset < 0 || chunk.DataSize < 0 || chunk.DataOffset > part.Bytes.Length - chunk.DataSize)
            {
                throw InvalidBoxException.For(BoxTypes.Trun, $"track {chunk.TrackId}: samples at {chunk.DataOffset} ({chunk.DataSize} bytes) lie outside the fragment");
            }

            samples += chunk.SampleCount;
            data += chunk.DataSize;
        }

        var tfhd = new TfhdBox(parts[0].Traf.TrackId) { DefaultBaseIsMoof = true };
        if (samples > TrackRunReader.MaxSamples)
        {
            throw InvalidBoxException.For(BoxTypes.Moof, $"the merged fragment would hold over {TrackRunReader.MaxSamples} samples");
        }

        var trunSize = TrunBox.Size((int)samples, compositionOffsets: true);
        var trafSize = 8 + tfhd.Size + TfdtBox.Size + trunSize;
        var moofSize = 8 + MfhdBox.Size + trafSize;
        if (moofSize + 8 + data > Array.MaxLength)
        {
            throw InvalidBoxException.For(BoxTypes.Moof, "the merged fragment would be too large");
        }

        traf = new TrackFragment
        {
            TrackId = tfhd.TrackId,
            TrafOffset = 8 + MfhdBox.Size,
            SampleCount = (int)samples,
            SummedDuration = parts.Sum(p => p.Traf.SummedDuration),
            DataSize = data,
            DataOffset = moofSize + 8,
            FirstSampleIsSync = parts[0].Traf.FirstSampleIsSync,
            DecodeTime = decodeTime,
            BaseIsMoof = true,
            Defaults = parts[0].Traf.Defaults,
        };
        var output = new byte[moofSize + 8 + data];
        var w = new SpanWriter(output);
        w.Box(BoxTypes.Moof, moofSize);
        new MfhdBox(SequenceNumber(parts[0].Bytes)).Write(ref w);
        w.Box(BoxTypes.Traf, trafSize);
        tfhd.Write(ref w);
        new TfdtBox(decodeTime).Write(ref w);
        TrunBox.WriteHead(ref w, (int)samples, moofSize + 8, compositionOffsets: true);
        foreach (var part in parts)
        {
            WriteEntries(part, ref w);
        }

        var dataAt = moofSize + BoxHeader.Write(output.AsSpan(moofSize), BoxTypes.Mdat, 8 + data);
        foreach (var part in parts)
        {
            part.Bytes.AsSpan((int)part.Traf.DataOffset, (int)part.Traf.DataSize).CopyTo(output.AsSpan(dataAt));
            dataAt += (int)part.Traf.DataSize;
        }

        return output;
    }

    private static void WriteEntries(FragmentPart part, ref SpanWriter w)
    {
        BoxHeader.TryRead(part.Bytes.AsSpan(part.Traf.TrafOffset), out var trafHeader);
        var traf = part.Bytes.AsSpan(part.Traf.TrafOffset + trafHeader.HeaderLength, (int)trafHeader.PayloadLength);
        var boxes = new BoxReader(traf);
        while (boxes.TryNext())
        {
            if (boxes.Header.Type != BoxTypes.Trun)
            {
                continue;
            }

            var run = new TrackRunReader(boxes.Payload, part.Traf.Defaults);
            while (run.TryNext(out var sample))
            {
                TrunBox.WriteEntry(ref w, sample.Duration, sample.Size, sample.Flags, sample.CompositionOffset, compositionOffsets: true);
            }
        }
    }

    private static uint SequenceNumber(byte[] fragment)
    {
        BoxHeader.TryRead(fragment, out var moof);
        var at = BoxReader.Find(fragment.AsSpan(moof.HeaderLength, (int)moof.PayloadLength), BoxTypes.Mfhd, out var mfhd);
        return at < 0 || mfhd.PayloadLength < 8 ? 1 : MfhdBox.Read(fragment.AsSpan(moof.HeaderLength + at + mfhd.HeaderLength, (int)mfhd.PayloadLength)).SequenceNumber;
    }
}
