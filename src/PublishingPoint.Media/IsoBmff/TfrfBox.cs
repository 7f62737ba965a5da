using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>
/// MS-SSTR 2.2.4.5 TfrfBox ('uuid' d4807ef2-...): version(8) flags(24) FragmentCount(8),
/// then per following fragment its absolute time and duration (64-bit each in version 1).
/// </summary>
public static class TfrfBox
{
    public static int SizeFor(int count) => 24 + 4 + 1 + (16 * count);

    public static int Write(Span<byte> destination, ReadOnlySpan<(long Time, long Duration)> next)
    {
        var size = SizeFor(next.Length);
        var at = BoxHeader.WriteUuid(destination, BoxTypes.Tfrf, size);
        BinaryPrimitives.WriteUInt32BigEndian(destination[at..], 0x0100_0000);
        destination[at + 4] = (byte)next.Length;
        at += 5;
        foreach (var (time, duration) in next)
        {
            BinaryPrimitives.WriteInt64BigEndian(destination[at..], time);
            BinaryPrimitives.WriteInt64BigEndian(destination[(at + 8)..], duration);
            at += 16;
        }

        return size;
    }
}
