namespace PublishingPoint.Media.Codecs;

/// <summary>
/// MSB-first bit reader. With <c>skipEmulationPrevention</c> it reads a NAL unit payload as RBSP:
/// a 0x03 following two zero bytes is dropped (ISO/IEC 14496-10 7.4.1, emulation_prevention_three_byte).
/// </summary>
public ref struct BitReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly bool _skipEmulationPrevention;
    private int _position;
    private int _zeroRun;
    private uint _current;
    private int _bitsLeft;

    public BitReader(ReadOnlySpan<byte> data, bool skipEmulationPrevention = false)
    {
        _data = data;
        _skipEmulationPrevention = skipEmulationPrevention;
    }

    /// <summary>True when every byte has been consumed and no buffered bits remain.</summary>
    public readonly bool IsAtEnd => _bitsLeft == 0 && _position >= _data.Length;

    /// <summary>Bits consumed so far, counted in RBSP (emulation-prevention bytes excluded).</summary>
    public int BitsRead { get; private set; }

    public bool ReadFlag() => ReadBits(1) != 0;

    /// <summary>Reads up to 32 bits, most significant first.</summary>
    public uint ReadBits(int count)
    {
        if ((uint)count > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

        uint value = 0;
        for (var i = 0; i < count; i++)
        {
            if (_bitsLeft == 0)
            {
                _current = NextByte();
                _bitsLeft = 8;
            }

            _bitsLeft--;
            value = (value << 1) | ((_current >> _bitsLeft) & 1);
        }

        BitsRead += count;
        return value;
    }

    public void Skip(int count)
    {
        while (count > 32)
        {
            ReadBits(32);
            count -= 32;
        }

        ReadBits(count);
    }

    /// <summary>ue(v): unsigned Exp-Golomb code (14496-10 9.1).</summary>
    public uint ReadUe()
    {
        var leadingZeros = 0;
        while (!ReadFlag())
        {
            if (++leadingZeros > 31)
            {
                throw new InvalidDataException("Exp-Golomb code longer than 32 bits.");
            }
        }

        return leadingZeros == 0 ? 0 : (uint)((1UL << leadingZeros) - 1 + ReadBits(leadingZeros));
    }

    /// <summary>se(v): signed Exp-Golomb code, mapped 1, -1, 2, -2, ... (14496-10 9.1.1).</summary>
    public int ReadSe()
    {
        var codeNum = ReadUe();
        var magnitude = (int)((codeNum + 1) >> 1);
        return (codeNum & 1) != 0 ? magnitude : -magnitude;
    }

    private byte NextByte()
    {
        while (true)
        {
            if (_position >= _data.Length)
            {
                throw new InvalidDataException("Read past the end of the bit stream.");
            }

            var b = _data[_position++];
            if (_skipEmulationPrevention && _zeroRun >= 2 && b == 0x03)
            {
                _zeroRun = 0;
                continue;
            }

            _zeroRun = b == 0 ? _zeroRun + 1 : 0;
            return b;
        }
    }
}
