using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Architecture;

/// <summary>No method, constructor, accessor or local function in src is longer than 80 lines (docs/architecture.md).</summary>
public sealed class MethodLengthTests
{
    private const int MaxLines = 80;

    [Fact]
    public void EveryMethodInSrc_IsAtMost80Lines()
    {
        var src = Path.Combine(ShippedNginx.RepositoryRoot(), "src");
        var files = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToArray();
        Assert.True(files.Length > 50, $"only {files.Length} source files under {src}");

        var tooLong = new List<string>();
        foreach (var file in files)
        {
            var root = CSharpSyntaxTree.ParseText(File.ReadAllText(file)).GetRoot();
            foreach (var node in root.DescendantNodes().Where(IsMethodLike))
            {
                var span = node.GetLocation().GetLineSpan();
                var lines = span.EndLinePosition.Line - span.StartLinePosition.Line + 1;
                if (lines > MaxLines)
                {
                    tooLong.Add($"{Path.GetRelativePath(src, file)}:{span.StartLinePosition.Line + 1} {Name(node)} ({lines} lines)");
                }
            }
        }

        Assert.True(tooLong.Count == 0, "methods longer than 80 lines:\n" + string.Join('\n', tooLong));
    }

    [Fact]
    public void LengthCheck_SeesALongMethod()
    {
        var body = string.Concat(Enumerable.Repeat("        x++;\n", MaxLines));
        var root = CSharpSyntaxTree.ParseText($"class C {{\n    void M()\n    {{\n{body}    }}\n}}").GetRoot();

        var method = Assert.Single(root.DescendantNodes(), IsMethodLike);
        var span = method.GetLocation().GetLineSpan();
        Assert.True(span.EndLinePosition.Line - span.StartLinePosition.Line + 1 > MaxLines);
    }

    private static bool IsMethodLike(SyntaxNode node) => node is BaseMethodDeclarationSyntax or LocalFunctionStatementSyntax or AccessorDeclarationSyntax
        || (node is ParenthesizedLambdaExpressionSyntax && node.Parent is ArgumentSyntax);

    private static string Name(SyntaxNode node) => node switch
    {
        MethodDeclarationSyntax m => m.Identifier.Text,
        ConstructorDeclarationSyntax c => c.Identifier.Text + " (constructor)",
        LocalFunctionStatementSyntax l => l.Identifier.Text + " (local function)",
        AccessorDeclarationSyntax a => a.Keyword.Text + " accessor",
        _ => node.Kind().ToString(),
    };
}
