using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>Moves the sample data of a 'traf' by patching every 'trun' data_offset (§8.8.8).</summary>
public static class TrackRunPatcher
{
    /// <summary>Adds <paramref name="delta"/> to the data_offset of each 'trun' in <paramref name="traf"/> (the whole box).</summary>
    public static void ShiftDataOffsets(Span<byte> traf, long delta)
    {
        BoxHeader.TryRead(traf, out var header);
        var children = traf[header.HeaderLength..];
        var at = 0;
        while (at + 8 <= children.Length)
        {
            BoxHeader.TryRead(children[at..], out var child);
            if (child.Type == BoxTypes.Trun)
            {
                var payload = children.Slice(at + child.HeaderLength, (int)child.PayloadLength);
                if ((BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x1) != 0)
                {
                    var moved = BinaryPrimitives.ReadInt32BigEndian(payload[8..]) + delta;
                    if (moved is < int.MinValue or > int.MaxValue)
                    {
                        throw InvalidBoxException.For(BoxTypes.Trun, $"data_offset cannot move by {delta}: it would be {moved}");
                    }

                    BinaryPrimitives.WriteInt32BigEndian(payload[8..], (int)moved);
                }
            }

            at += (int)child.Size;
        }
    }
}
