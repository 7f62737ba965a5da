using System.Buffers.Binary;

namespace PublishingPoint.Media.IsoBmff;

/// <summary>Sequential big-endian writes into a span whose size was computed beforehand.</summary>
internal ref struct SpanWriter
{
    private readonly Span<byte> _destination;

    public SpanWriter(Span<byte> destination)
    {
        _destination = destination;
        Position = 0;
    }

    public int Position { get; private set; }

    public void Box(FourCC type, long size) => Position += BoxHeader.Write(_destination[Position..], type, size);

    /// <summary>A box header followed by version(8) and flags(24).</summary>
    public void FullBox(FourCC type, long size, byte version, uint flags)
    {
        Box(type, size);
        UInt32(((uint)version << 24) | (flags & 0xFFFFFF));
    }

    public void UInt8(int value) => _destination[Position++] = (byte)value;

    public void UInt16(int value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_destination[Position..], (ushort)value);
        Position += 2;
    }

    public void UInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_destination[Position..], value);
        Position += 4;
    }

    public void Int32(int value) => UInt32(unchecked((uint)value));

    public void UInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_destination[Position..], value);
        Position += 8;
    }

    public void FourCC(FourCC value)
    {
        value.Write(_destination[Position..]);
        Position += 4;
    }

    public void Zeros(int count)
    {
        _destination.Slice(Position, count).Clear();
        Position += count;
    }

    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_destination[Position..]);
        Position += bytes.Length;
    }

    /// <summary>The unity matrix of 'mvhd'/'tkhd' (§8.2.2): { 0x00010000,0,0, 0,0x00010000,0, 0,0,0x40000000 }.</summary>
    public void UnityMatrix()
    {
        UInt32(0x0001_0000);
        Zeros(12);
        UInt32(0x0001_0000);
        Zeros(12);
        UInt32(0x4000_0000);
    }

    /// <summary>Hands out the next <paramref name="length"/> bytes for a nested writer.</summary>
    public Span<byte> Take(int length)
    {
        var slice = _destination.Slice(Position, length);
        Position += length;
        return slice;
    }
}
