using System.Buffers.Binary;
using PublishingPoint.Media.IsoBmff;

namespace PublishingPoint.Server.Archive;

/// <summary>
/// The fragment offsets a finished archive lists in its 'mfra' (each 'tfra' entry's moof offset), read through the
/// 'mfro' that ends the file. A file that ends so was finished: whatever the scan cannot read in it is damage, not a
/// crash's torn end, and the scan goes on at the next listed fragment instead of cutting the file there.
/// </summary>
internal static class SealedIndex
{
    private const int MfroSize = 16;

    /// <summary>
    /// The listed moof offsets in ascending order, then the 'mfra' offset; empty when the file does not end with an
    /// 'mfro' that points at an 'mfra' of its size (of at most <paramref name="maxBytes"/>).
    /// </summary>
    public static long[] Read(FileStream file, long maxBytes)
    {
        var length = file.Length;
        if (length < MfroSize * 2)
        {
            return [];
        }

        Span<byte> mfro = stackalloc byte[MfroSize];
        file.Position = length - MfroSize;
        file.ReadExactly(mfro);
        var mfraSize = BinaryPrimitives.ReadUInt32BigEndian(mfro[12..]);
        if (BinaryPrimitives.ReadUInt32BigEndian(mfro) != MfroSize || FourCC.Read(mfro[4..]) != BoxTypes.Mfro
            || mfraSize < 8 + MfroSize || mfraSize > length || mfraSize > maxBytes)
        {
            return [];
        }

        var mfraAt = length - mfraSize;
        var mfra = new byte[mfraSize];
        file.Position = mfraAt;
        file.ReadExactly(mfra);
        if (BinaryPrimitives.ReadUInt32BigEndian(mfra) != mfraSize || FourCC.Read(mfra.AsSpan(4)) != BoxTypes.Mfra)
        {
            return [];
        }

        var offsets = new List<long>();
        var children = mfra.AsSpan(8, (int)mfraSize - 8 - MfroSize);
        while (children.Length >= 8)
        {
            var size = BinaryPrimitives.ReadUInt32BigEndian(children);
            if (size < 8 || size > children.Length)
            {
                return [];
            }

            if (FourCC.Read(children[4..]) == BoxTypes.Tfra && !TryEntries(children[8..(int)size], mfraAt, offsets))
            {
                return [];
            }

            children = children[(int)size..];
        }

        offsets.Sort();
        var distinct = new List<long>(offsets.Count + 1);
        foreach (var offset in offsets)
        {
            if (distinct.Count == 0 || distinct[^1] != offset)
            {
                distinct.Add(offset);
            }
        }

        distinct.Add(mfraAt);
        return [.. distinct];
    }

    // A 'tfra' (ISO/IEC 14496-12 8.8.10): version, flags, track id, the byte counts of three numbers, then the entries.
    private static bool TryEntries(ReadOnlySpan<byte> tfra, long mfraAt, List<long> offsets)
    {
        if (tfra.Length < 12)
        {
            return false;
        }

        var wide = tfra[0] == 1;
        var sizes = BinaryPrimitives.ReadUInt32BigEndian(tfra[8..]);
        var numbers = (int)(((sizes >> 4) & 3) + ((sizes >> 2) & 3) + (sizes & 3) + 3);
        var entry = (wide ? 16 : 8) + numbers;
        if (tfra.Length < 16)
        {
            return false;
        }

        var count = BinaryPrimitives.ReadUInt32BigEndian(tfra[12..]);
        var entries = tfra[16..];
        if (count > entries.Length / entry)
        {
            return false;
        }

        for (var i = 0; i < count; i++, entries = entries[entry..])
        {
            var offset = wide ? BinaryPrimitives.ReadInt64BigEndian(entries[8..]) : BinaryPrimitives.ReadUInt32BigEndian(entries[4..]);
            if (offset > 0 && offset < mfraAt)
            {
                offsets.Add(offset);
            }
        }

        return true;
    }
}
