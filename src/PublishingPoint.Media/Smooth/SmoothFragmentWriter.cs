using System.Buffers.Binary;
using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Media.Smooth;

/// <summary>
/// Turns an ingested single-track fragment (moof+mdat) into what a Smooth client expects (MS-SSTR 2.2.4):
/// a 'tfxd' with the fragment's absolute time (added when the encoder sent 'tfdt' instead) and, for live,
/// a 'tfrf' announcing the fragments that follow. Both go at the end of the 'traf'; sizes and the
/// 'trun' data_offset are patched so the samples are still found. With a <c>sequence</c>, the 'mfhd' carries it
/// instead of the encoder's count (which restarts with every encoder process), so every origin sends the same bytes.
/// </summary>
public static class SmoothFragmentWriter
{
    /// <param name="announce">
    /// A 'tfrf' even when no fragment follows yet (with none listed): a live client such as dash.js takes a fragment
    /// without one for an error, and the newest fragment, or a finished point's last, has nothing to announce.
    /// </param>
    public static byte[] Write(ReadOnlySpan<byte> fragment, TrackFragment traf, long time, long duration,
        ReadOnlySpan<(long Time, long Duration)> following, uint? sequence = null, bool announce = false)
    {
        var output = Rewrite(fragment, traf, time, duration, following, announce || following.Length > 0);
        if (traf.TfxdTime is { } sent && sent != time)
        {
            SetTfxdTime(output.AsSpan(traf.TrafOffset), time);
        }

        if (sequence is { } number)
        {
            var mfhdAt = BoxReader.Find(output.AsSpan(8), BoxTypes.Mfhd, out var mfhd);
            if (mfhdAt >= 0 && mfhd.Size >= MfhdBox.Size)
            {
                new MfhdBox(number).Write(output.AsSpan(8 + mfhdAt));
            }
        }

        return output;
    }

    // The encoder's 'tfxd' says another time than the manifest lists (a negative one, clamped to 0): it says the manifest's.
    private static void SetTfxdTime(Span<byte> traf, long time)
    {
        BoxHeader.TryRead(traf, out var trafHeader);
        var children = traf[trafHeader.HeaderLength..(int)Math.Min(trafHeader.Size, traf.Length)];
        while (BoxHeader.TryRead(children, out var child) && child.Size >= child.HeaderLength && child.Size <= children.Length)
        {
            if (child.Type == BoxTypes.Uuid && child.UserType == BoxTypes.Tfxd && child.PayloadLength >= 12)
            {
                var payload = children[child.HeaderLength..(int)child.Size];
                if (payload[0] == 1 && payload.Length >= 20)
                {
                    BinaryPrimitives.WriteInt64BigEndian(payload[4..], time);
                }
                else if (time is >= 0 and <= uint.MaxValue)
                {
                    BinaryPrimitives.WriteUInt32BigEndian(payload[4..], (uint)time);
                }

                return;
            }

            children = children[(int)child.Size..];
        }
    }

    private static byte[] Rewrite(ReadOnlySpan<byte> fragment, TrackFragment traf, long time, long duration,
        ReadOnlySpan<(long Time, long Duration)> following, bool tfrf)
    {
        ArgumentNullException.ThrowIfNull(traf);
        if (!BoxHeader.TryRead(fragment, out var moof) || moof.Type != BoxTypes.Moof || moof.Size > fragment.Length)
        {
            throw new InvalidBoxException("fragment does not start with a complete 'moof'");
        }

        var addTfxd = traf.TfxdTime is null;
        var insert = (addTfxd ? TfxdBox.Size : 0) + (tfrf ? TfrfBox.SizeFor(following.Length) : 0);
        if (insert == 0)
        {
            return fragment.ToArray();
        }

        if (traf.HasExplicitBaseOffset)
        {
            throw new InvalidBoxException("'tfhd' uses an absolute base_data_offset; the fragment cannot be rewritten");
        }

        BoxHeader.TryRead(fragment[traf.TrafOffset..], out var trafHeader);
        var trafEnd = traf.TrafOffset + (int)trafHeader.Size;
        var output = new byte[fragment.Length + insert];
        var span = output.AsSpan();
        fragment[..trafEnd].CopyTo(span);
        var at = trafEnd;
        if (addTfxd)
        {
            at += new TfxdBox(time, duration).Write(span[at..]);
        }

        if (tfrf)
        {
            at += TfrfBox.Write(span[at..], following);
        }

        fragment[trafEnd..].CopyTo(span[at..]);

        AddToSize(span, insert);
        AddToSize(span[traf.TrafOffset..], insert);
        TrackRunPatcher.ShiftDataOffsets(span.Slice(traf.TrafOffset, (int)trafHeader.Size + insert), insert);
        return output;
    }

    private static void AddToSize(Span<byte> box, int delta)
    {
        var size = BinaryPrimitives.ReadUInt32BigEndian(box);
        if (size == 1)
        {
            BinaryPrimitives.WriteUInt64BigEndian(box[8..], BinaryPrimitives.ReadUInt64BigEndian(box[8..]) + (ulong)delta);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(box, checked(size + (uint)delta));
        }
    }
}
