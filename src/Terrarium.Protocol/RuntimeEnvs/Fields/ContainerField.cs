using System.Text.Json;

namespace Terrarium.Protocol.RuntimeEnvs.Fields;

/// <summary><c>container</c>: <c>{image, run_options}</c>; Ray's <c>image_uri</c> is the same field without run options.</summary>
internal sealed class ContainerField() : RuntimeEnvField<ContainerSpec>("container")
{
    private static readonly string[] s_keys = ["image", "run_options"];

    public override IReadOnlyList<string> Aliases => ["image_uri"];

    protected override ContainerSpec? Get(RuntimeEnv env) => env.Container;

    protected override RuntimeEnv With(RuntimeEnv env, ContainerSpec? value) => env with { Container = value };

    protected override ContainerSpec Parse(string key, JsonElement value, string path)
    {
        if (key == "image_uri")
        {
            return new ContainerSpec { Image = RuntimeEnvJson.String(value, path) };
        }

        RuntimeEnvJson.Expect(value, JsonValueKind.Object, path, "an object with 'image' and optional 'run_options'");
        string? image = null;
        IReadOnlyList<string> runOptions = [];
        foreach (var field in value.EnumerateObject().Where(f => !RuntimeEnvJson.IsNullOf(f, s_keys)))
        {
            switch (field.Name)
            {
                case "image":
                    image = RuntimeEnvJson.String(field.Value, path + ".image");
                    break;
                case "run_options":
                    runOptions = RuntimeEnvJson.Strings(field.Value, path + ".run_options");
                    break;
                default:
                    throw RuntimeEnvJson.UnknownKey(field.Name, path, s_keys);
            }
        }

        return image is null
            ? throw new ArgumentException($"{path} needs an 'image'")
            : new ContainerSpec { Image = image, RunOptions = runOptions };
    }

    protected override void WriteValue(Utf8JsonWriter json, ContainerSpec value)
    {
        json.WriteStartObject();
        json.WriteString("image", value.Image);
        RuntimeEnvJson.WriteStrings(json, "run_options", value.RunOptions);
        json.WriteEndObject();
    }

    protected override void Check(ContainerSpec value, string paramName)
    {
        if (!ContainerRunOptions.IsImageReference(value.Image))
        {
            throw new ArgumentException($"runtime_env.container.image '{value.Image}' is not an image reference (such as 'localhost/app:1' or 'docker.io/library/debian:12')", paramName);
        }

        if (value.RunOptions is null)
        {
            throw new ArgumentException("runtime_env.container.run_options must be a list of strings, not null", paramName);
        }

        if (ContainerRunOptions.RefusalOf(value.RunOptions) is { } refusal)
        {
            throw new ArgumentException($"runtime_env.container.{refusal}", paramName);
        }
    }
}
