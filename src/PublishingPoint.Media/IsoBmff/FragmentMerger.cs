using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>One single-track fragment (moof with one 'traf', then its 'mdat') and what its 'traf' says.</summary>
public readonly record struct FragmentPart(byte[] Bytes, TrackFragment Traf);

/// <summary>
/// Joins consecutive single-track fragments of one track (low-latency chunks: a 'moof' per frame or two)
/// into one fragment: moof(mfhd, traf(tfhd default-base-is-moof, tfdt, one trun with every sample)) + mdat.
/// </summary>
public static class FragmentMerger
{
    private const int TrunEntrySize = 16;

    public static byte[] Merge(IReadOnlyList<FragmentPart> parts, long decodeTime)
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
            var traf = part.Traf;
            if (traf.DataOffset < 0 || traf.DataSize < 0 || traf.DataOffset > part.Bytes.Length - traf.DataSize)
            {
                throw InvalidBoxException.For(BoxTypes.Trun, $"track {traf.TrackId}: samples at {traf.DataOffset} ({traf.DataSize} bytes) lie outside the fragment");
            }

            samples += traf.SampleCount;
            data += traf.DataSize;
        }

        const int MfhdSize = 16;
        const int TfhdSize = 16;
        const int TfdtSize = 20;
        var trunSize = 8 + 12 + (TrunEntrySize * samples);
        var trafSize = 8 + TfhdSize + TfdtSize + trunSize;
        var moofSize = 8 + MfhdSize + trafSize;
        if (moofSize + 8 + data > Array.MaxLength)
        {
            throw InvalidBoxException.For(BoxTypes.Moof, "the merged fragment would be too large");
        }

        var output = new byte[moofSize + 8 + data];
        var span = output.AsSpan();

        var at = BoxHeader.Write(span, BoxTypes.Moof, moofSize);
        at += BoxHeader.Write(span[at..], BoxTypes.Mfhd, MfhdSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], SequenceNumber(parts[0].Bytes));
        at += 8;
        at += BoxHeader.Write(span[at..], BoxTypes.Traf, trafSize);
        at += BoxHeader.Write(span[at..], BoxTypes.Tfhd, TfhdSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], 0x020000); // default-base-is-moof
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], parts[0].Traf.TrackId);
        at += 8;
        at += BoxHeader.Write(span[at..], BoxTypes.Tfdt, TfdtSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], 0x0100_0000);
        BinaryPrimitives.WriteInt64BigEndian(span[(at + 4)..], decodeTime);
        at += 12;
        at += BoxHeader.Write(span[at..], BoxTypes.Trun, trunSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], 0x0100_0F01); // v1: data offset, duration, size, flags, cto
        BinaryPrimitives.WriteUInt32BigEndian(span[(at + 4)..], (uint)samples);
        BinaryPrimitives.WriteInt32BigEndian(span[(at + 8)..], (int)moofSize + 8);
        at += 12;

        var dataAt = (int)moofSize + BoxHeader.Write(span[(int)moofSize..], BoxTypes.Mdat, 8 + data);
        foreach (var part in parts)
        {
            at = WriteEntries(part, span, at);
            part.Bytes.AsSpan((int)part.Traf.DataOffset, (int)part.Traf.DataSize).CopyTo(span[dataAt..]);
            dataAt += (int)part.Traf.DataSize;
        }

        return output;
    }

    private static int WriteEntries(FragmentPart part, Span<byte> output, int at)
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
                BinaryPrimitives.WriteUInt32BigEndian(output[at..], sample.Duration);
                BinaryPrimitives.WriteUInt32BigEndian(output[(at + 4)..], sample.Size);
                BinaryPrimitives.WriteUInt32BigEndian(output[(at + 8)..], sample.Flags);
                BinaryPrimitives.WriteInt32BigEndian(output[(at + 12)..], sample.CompositionOffset);
                at += TrunEntrySize;
            }
        }

        return at;
    }

    private static uint SequenceNumber(byte[] fragment)
    {
        BoxHeader.TryRead(fragment, out var moof);
        var at = BoxReader.Find(fragment.AsSpan(moof.HeaderLength, (int)moof.PayloadLength), BoxTypes.Mfhd, out var mfhd);
        return at < 0 || mfhd.PayloadLength < 8 ? 1 : BinaryPrimitives.ReadUInt32BigEndian(fragment.AsSpan(moof.HeaderLength + at + mfhd.HeaderLength + 4));
    }
}
